/// Why ``WarmConnections/prepare(to:timeout:idle:)`` did not pool a connection.
public enum WarmConnectionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A setting out of range.
    case invalid(String)
    /// The pool holds ``WarmConnections/capacity`` connections already.
    case poolFull(capacity: Int)
    /// The connect did not finish within its timeout.
    case timedOut(SocketAddress)
    /// The connect failed (refused, unreachable…).
    case failed(SocketAddress, reason: String)
    /// No network hooks in this build (not Linux, or under a sanitizer).
    case unavailable

    public var description: String {
        switch self {
        case .invalid(let rule): "warm connection: \(rule)"
        case .poolFull(let capacity): "warm connection: the pool is full (\(capacity) connections)"
        case .timedOut(let address): "warm connection to \(address): connect timed out"
        case .failed(let address, let reason): "warm connection to \(address): \(reason)"
        case .unavailable: "warm connection: the network hooks are not in this build"
        }
    }
}
