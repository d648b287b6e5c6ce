import FirstFrameCore

/// A resolver made of a closure: HTTP-DNS clients, or tests that inject delay and failure.
public struct ClosureResolver: Resolver {
    public let name: String
    private let body: @Sendable (String, AddressFamilyPolicy) async throws(DNSError) -> DNSAnswer

    public init(
        name: String,
        _ body: @escaping @Sendable (String, AddressFamilyPolicy) async throws(DNSError) -> DNSAnswer
    ) {
        self.name = name
        self.body = body
    }

    public func resolve(host: String, families: AddressFamilyPolicy) async throws(DNSError) -> DNSAnswer {
        try await body(host, families)
    }
}
