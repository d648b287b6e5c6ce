import CNetworkHooks

/// What the network hooks do with the connects of one traced open: hand them warm connections, open spares, hedge
/// a connect that is slow to answer. The hooks apply it on the thread that runs the capture, while it runs
/// (``NetworkTrace/capture(captureBytesPerTurn:quickAck:connectPolicy:_:)``).
public struct ConnectPolicy: Sendable, Hashable {
    /// A connect to an address the warm pool (``WarmConnections``) holds an established, healthy connection to is
    /// handed that connection: no handshake, no round trip.
    public var acceptsWarmConnections: Bool
    /// As soon as the capture's first connect to an address succeeds, this many more connections to it are opened
    /// in parallel (non-blocking, by the hooks on the open's thread) and pooled, so that a later connect of the same
    /// open to that address (an HLS segment after its playlist, a redirect to the same edge) is handed one. Those
    /// left unused are closed when the capture ends: an open does not leave idle connections on the server.
    public var spareConnections: Int
    /// After this long still connecting (a SYN or SYN-ACK lost, which Linux retransmits only after 1 s), a second
    /// connect to the same address is raced against the first; the first to connect becomes the caller's socket.
    /// Nil: never.
    public var hedgeAfter: Duration?

    /// Stock behaviour: warm connections are taken when the pool has one (it only has any when something prepared
    /// them), no spares, no hedging.
    public init(acceptsWarmConnections: Bool = true, spareConnections: Int = 0, hedgeAfter: Duration? = nil) {
        self.acceptsWarmConnections = acceptsWarmConnections
        self.spareConnections = spareConnections
        self.hedgeAfter = hedgeAfter
    }

    /// The most spare connections a policy may ask for.
    public static let maximumSpares = 4

    /// The policy, checked: spares in 0...``maximumSpares``, a hedge delay in (0, 60] seconds.
    package var isValid: Bool {
        guard (0...Self.maximumSpares).contains(spareConnections) else { return false }
        if let hedgeAfter, hedgeAfter <= .zero || hedgeAfter > .seconds(60) { return false }
        return true
    }

    /// How long a spare may stay pooled should the capture never end it (it does, at its end): a safety bound.
    static let spareLifetime: Duration = .seconds(60)

    /// Applies the policy to the calling thread's connects until ``end(owner:)``; false (nothing changed) when the
    /// thread already has one (a capture inside another keeps the enclosing one's).
    func begin(owner: UInt64) -> Bool {
        cnh_connect_policy_begin(
            acceptsWarmConnections ? 1 : 0,
            Int32(clamping: max(0, min(spareConnections, Self.maximumSpares))),
            Self.nanoseconds(Self.spareLifetime),
            hedgeAfter.map(Self.nanoseconds) ?? 0,
            owner
        ) == 1
    }

    /// Ends the calling thread's policy: a hedge still connecting is closed, and the spares `owner` left unused.
    static func end(owner: UInt64) {
        cnh_connect_policy_end(owner)
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }
}
