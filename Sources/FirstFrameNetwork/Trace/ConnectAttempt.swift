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

    /// A second attempt to the same address, started by the hooks while this one was still connecting after the
    /// connect policy's hedge delay (a lost SYN waits ~1 s for the kernel's retransmission).
    public struct Hedge: Sendable, Codable, Hashable {
        /// Which attempt connected first.
        public enum Outcome: String, Sendable, Codable {
            /// This attempt connected first; the hedge was closed.
            case original
            /// The hedge connected first and took this attempt's socket: `end` is when.
            case hedge
            /// The hedge failed (`error`); this attempt went on alone.
            case failed
            /// This attempt failed or was closed while the hedge still ran; the hedge was closed.
            case abandoned
        }

        public var start: UInt64
        public var end: UInt64?
        /// Nil while the race runs (or when the trace ended first).
        public var outcome: Outcome?
        public var error: String?
    }

    public var address: SocketAddress
    public var fd: Int32
    public var start: UInt64
    public var end: UInt64?
    public var outcome: Outcome
    public var errorCode: Int32?
    public var error: String?
    /// Set when the hooks handed this connect an established connection from the warm pool
    /// (``WarmConnections``) instead of a handshake: the instant that connection's own connect started. The
    /// attempt then took no round trip.
    public var warmSince: UInt64? = nil
    /// The hedge started for this attempt, if any.
    public var hedge: Hedge? = nil

    /// Whether the connect was handed a warm connection (no handshake).
    public var isWarm: Bool { warmSince != nil }

    public var family: IPAddress.Family { address.address.family }
    public var duration: UInt64? { end.map { $0 &- start } }
}

extension ConnectAttempt.Outcome: CustomStringConvertible {
    /// Its name (`connected`, `failed`, …): what `print` and string interpolation show, instead of the qualified case.
    public var description: String { rawValue }
}
