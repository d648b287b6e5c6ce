import Testing

/// The top-level suite of the opener's tests that use the origin or real sockets: they measure time on a two-core
/// machine, so they run one at a time.
@Suite(.serialized) struct OriginTests {}
