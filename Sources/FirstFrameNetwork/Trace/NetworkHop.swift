import FirstFrameCore

/// One request on the network: an HTTP request (each redirect is a new hop), an HLS playlist or segment, or
/// an RTMP connection. Times are `MonotonicClock` nanoseconds; ``NetworkTrace/milliseconds(at:)`` makes them
/// relative to the start of the trace.
public struct NetworkHop: Sendable, Codable, Hashable {
    /// The protocol the hop's connection carried, recognised from its first bytes or its gnutls calls.
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
