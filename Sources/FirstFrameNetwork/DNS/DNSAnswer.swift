import FirstFrameCore

/// What a resolver found for a host.
public struct DNSAnswer: Sendable, Hashable {
    public var addresses: [IPAddress]
    /// The records' time to live in seconds, when the resolver can tell (the smallest along a CNAME chain).
    public var ttl: Double?

    public init(addresses: [IPAddress], ttl: Double? = nil) {
        self.addresses = addresses
        self.ttl = ttl
    }
}
