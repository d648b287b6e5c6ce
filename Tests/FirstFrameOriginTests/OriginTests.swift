import Testing

/// The top-level suite: origin tests measure time on a two-core machine, so they run one at a time.
@Suite(.serialized) struct OriginTests {}
