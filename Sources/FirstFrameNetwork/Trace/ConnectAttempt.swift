import FirstFrameCore

/// One `connect()` to one address.
public struct ConnectAttempt: Sendable, Codable, Hashable {
    /// How the attempt ended.
    public enum Outcome: String, Sendable, Codable {
        case connected
        /// The kernel reported an error (refused, unreachable, timed out).
        case failed
        /// Closed before it connected: another attempt won the race, or the caller gave up.
        case abandoned
        /// Still connecting when the trace ended.
        case pending
    }

    public var address: SocketAddress
    public var fd: Int32
    public var start: UInt64
    public var end: UInt64?
    public var outcome: Outcome
    public var errorCode: Int32?
    public var error: String?

    public var family: IPAddress.Family { address.address.family }
    public var duration: UInt64? { end.map { $0 &- start } }
}

extension ConnectAttempt.Outcome: CustomStringConvertible {
    /// Its name (`connected`, `failed`, …): what `print` and string interpolation show, instead of the qualified case.
    public var description: String { rawValue }
}
