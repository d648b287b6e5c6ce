import FirstFrameCore

/// A source of addresses for the ``DNSCache``: the system resolver, a static map, HTTP-DNS, a test double.
///
/// `resolve` is called from the cache's own tasks, never on the FFmpeg thread that is waiting; blocking work
/// belongs on a thread of its own (see `DedicatedThread`), not on the cooperative pool.
///
/// An installed cache answers every `getaddrinfo` in the process, including the resolver's own: an HTTP-DNS
/// resolver must reach its server by address (or look its name up with `cnh_real_getaddrinfo`), or its lookup
/// comes back to the cache that is waiting for it and waits out the lookup timeout.
public protocol Resolver: Sendable {
    /// A short name for reports and errors: `system`, `static`, `httpdns`.
    var name: String { get }
    func resolve(host: String, families: AddressFamilyPolicy) async throws(DNSError) -> DNSAnswer
}

/// A resolver whose work is a blocking call: the cache runs it straight on ``BlockingPool/resolvers`` (a bounded
/// pool, so a hung resolver holds a few threads, not one per lookup).
package protocol BlockingResolver: Resolver {
    func resolveBlocking(host: String, families: AddressFamilyPolicy) throws(DNSError) -> DNSAnswer
}
