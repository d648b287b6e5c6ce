import Testing

/// The top-level suite of the network layer's tests: some install the DNS cache process-wide and some measure
/// time, so they run one at a time.
@Suite(.serialized) struct NetworkTests {}
