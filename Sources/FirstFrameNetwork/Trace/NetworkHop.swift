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

    /// What an HTTP hop fetched for an HLS input, read from the playlists' text in the captured response bodies
    /// (``HLSPlaylistReading`` has the details: variants, segment durations, distance from the live edge).
    public enum Role: String, Sendable, Codable {
        /// A multivariant ("master") playlist: it lists variants (`#EXT-X-STREAM-INF`).
        case masterPlaylist
        /// A media playlist: it lists segments (`#EXTINF`).
        case mediaPlaylist
        /// A media segment: its URL is one a media playlist read earlier listed (or, unlisted, its response
        /// is MPEG-TS or another segment type).
        case segment
        /// Anything else in an HLS open: a redirect, a key, a playlist or segment whose body was not captured.
        case other
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
    /// Whether this hop's TLS handshake resumed an earlier session (a session ticket or ID the server
    /// accepted: no certificate sent or verified, and under TLS 1.2 one round trip instead of two) or was a
    /// full one (`gnutls_session_is_resumed` after the handshake); nil when the hop made no
    /// handshake (plain HTTP, a kept-alive connection) or when the gnutls hook did not see it end in success.
    /// FFmpeg 5.1's tls_gnutls keeps no session data between connections, so through stock FFmpeg it is false.
    public var tlsResumed: Bool?
    /// The TLS version the handshake negotiated, as gnutls reported it (`1.2`, `1.3`); nil without a handshake
    /// through the gnutls hook.
    public var tlsVersion: String?
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
    /// What the hop fetched for an HLS input; nil when the trace read no playlist (not HLS, or a playlist
    /// whose body the trace did not capture).
    public var role: Role?
    /// The kernel's view of the hop's connection (`TCP_INFO`), in the order taken: at its connect, when the opener
    /// asked, before it closed. Counters are the connection's since it opened (a kept-alive hop's include the
    /// hops before it on the same connection). Empty when the hooks took none (not TCP, or not traced).
    public var transport: [TransportSample] = []

    /// The sample taken when the connect succeeded: its RTT is the SYN's round trip.
    public var connectSample: TransportSample? { transport.first { $0.reason == .connected } }

    /// The last sample taken.
    public var lastSample: TransportSample? { transport.last }

    /// The connect attempt that succeeded.
    public var establishedConnect: ConnectAttempt? { connects.first { $0.outcome == .connected } }
}
