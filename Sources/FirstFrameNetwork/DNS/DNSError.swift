import FirstFrameCore

/// Why a lookup produced no address.
public enum DNSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The name does not exist (an authoritative answer: it is cached as a negative entry).
    case noSuchHost(String)
    /// The name exists but has no address of the allowed families.
    case noAddresses(String, AddressFamilyPolicy)
    /// No answer within the lookup deadline.
    case timedOut(String, milliseconds: Double)
    case cancelled(String)
    /// A resolver failed for another reason (network, malformed answer, HTTP-DNS error).
    case failed(String, resolver: String, reason: String)

    public var host: String {
        switch self {
        case .noSuchHost(let host), .noAddresses(let host, _), .timedOut(let host, _), .cancelled(let host),
            .failed(let host, _, _):
            host
        }
    }

    public var description: String {
        switch self {
        case .noSuchHost(let host): "\(host): no such host"
        case .noAddresses(let host, let policy): "\(host): no address allowed by \(policy.rawValue)"
        case .timedOut(let host, let ms): "\(host): no answer within \(Int(ms)) ms"
        case .cancelled(let host): "\(host): lookup cancelled"
        case .failed(let host, let resolver, let reason): "\(host): \(resolver) failed: \(reason)"
        }
    }

    /// Whether the answer says the name has no usable address, rather than that asking failed.
    var isAuthoritative: Bool {
        switch self {
        case .noSuchHost, .noAddresses: true
        default: false
        }
    }
}
