/// One request on the network: an HTTP request (each redirect is a new hop), an HLS playlist or segment, or
/// an RTMP connection. Times are `MonotonicClock` nanoseconds; ``NetworkTrace/milliseconds(at:)`` makes them
/// relative to the start of the trace.
public struct NetworkHop: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable {
        /// Plain HTTP: the request line and response head are read from the socket.
        case http
        /// TLS (HTTPS, RTMPS): recognised from the handshake record type of the first bytes sent. Through gnutls
        /// the handshake is bracketed by `gnutls_handshake` and the request/response come from its plaintext.
        case tls
        /// RTMP: the first bytes sent are the C0+C1 handshake.
        case rtmp
        /// Anything else on TCP, or a connection that never sent.
        case tcp
    }

    public var index: Int
    public var kind: Kind
    /// `http(s)://host[:port]/path` from the request line and `Host` header (plain HTTP, and HTTPS through
    /// gnutls, whose plaintext the hooks see).
    public var url: String?
    /// The name looked up (or, without a lookup, the address connected to).
    public var host: String?
    public var port: Int?
    public var lookup: DomainLookup?
    /// Every connect attempt, in the order started (happy eyeballs makes several).
    public var connects: [ConnectAttempt]
    /// The connection the request went out on.
    public var remote: SocketAddress?
    /// The request reused the connection of an earlier hop (keep-alive): no lookup, no connect.
    public var reusedConnection: Bool
    public var secureConnectionStart: UInt64?
    public var secureConnectionEnd: UInt64?
    /// TLS handshake failure, as gnutls reported it.
    public var secureConnectionError: String?
    /// The first byte of the request was handed to the kernel.
    public var requestStart: UInt64?
    /// The first byte of the response arrived.
    public var responseStart: UInt64?
    /// `HTTP/1.1 302 Found` (plain HTTP, and HTTPS through gnutls).
    public var statusLine: String?
    public var status: Int?
    /// The `Location` of a 3xx response.
    public var redirectTo: String?
    public var bytesSent: Int64
    public var bytesReceived: Int64
    /// The socket was closed (or shut down) at this time, if it was while tracing.
    public var closed: UInt64?

    /// The connect attempt that succeeded.
    public var establishedConnect: ConnectAttempt? { connects.first { $0.outcome == .connected } }
}

/// A `getaddrinfo` call: the host asked for and what answered it.
public struct DomainLookup: Sendable, Codable, Hashable {
    public enum Source: String, Sendable, Codable {
        /// libc's getaddrinfo.
        case system
        /// A fresh ``DNSCache`` entry.
        case cache
        /// An expired cache entry, served while it is refreshed.
        case stale
        /// A cache miss, resolved by the cache's resolvers while FFmpeg waited.
        case resolver
        /// The host was an address literal.
        case literal
        /// A cached failure.
        case negative

        init(_ raw: Int32) {
            switch raw {
            case 1: self = .cache
            case 2: self = .stale
            case 3: self = .resolver
            case 4: self = .literal
            case 5: self = .negative
            default: self = .system
            }
        }
    }

    public var host: String
    public var service: String
    public var start: UInt64
    public var end: UInt64?
    public var answers: [SocketAddress]
    public var source: Source
    /// The `EAI_*` code of a failed lookup, and its text (with the reason when the cache timed out).
    public var errorCode: Int32?
    public var error: String?

    public var duration: UInt64? { end.map { $0 &- start } }
}

/// One `connect()` to one address.
public struct ConnectAttempt: Sendable, Codable, Hashable {
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
