/// One thing that happened during an open or to a kept stream, on the report's clock.
public struct OpenEvent: Sendable, Hashable {
    /// Milliseconds from the moment the open was asked for.
    public var ms: Double
}
