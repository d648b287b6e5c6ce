/// Which address families lookups return.
public enum AddressFamilyPolicy: String, Sendable, Codable, CaseIterable {
    /// A records only: no AAAA query to wait for (the default; the field report's fix).
    case ipv4Only
    /// AAAA records only.
    case ipv6Only
    /// Both, interleaved IPv6 first as RFC 8305 asks, so happy eyeballs can race them.
    case both

    func allows(_ family: IPAddress.Family) -> Bool {
        switch self {
        case .ipv4Only: family == .ipv4
        case .ipv6Only: family == .ipv6
        case .both: true
        }
    }

    /// Keeps the allowed families; for `.both`, alternates IPv6 and IPv4 starting with IPv6.
    func arrange(_ addresses: [IPAddress]) -> [IPAddress] {
        var seen = Set<IPAddress>()
        let allowed = addresses.filter { allows($0.family) && seen.insert($0).inserted }
        guard self == .both else { return allowed }
        let v6 = allowed.filter { $0.family == .ipv6 }
        let v4 = allowed.filter { $0.family == .ipv4 }
        var result: [IPAddress] = []
        for index in 0..<max(v6.count, v4.count) {
            if index < v6.count { result.append(v6[index]) }
            if index < v4.count { result.append(v4[index]) }
        }
        return result
    }
}

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
             .failed(let host, _, _): host
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

/// A source of addresses for the ``DNSCache``: the system resolver, a static map, HTTP-DNS, a test double.
///
/// `resolve` is called from the cache's own tasks, never on the FFmpeg thread that is waiting; blocking work
/// belongs on a thread of its own (see ``DedicatedThread``), not on the cooperative pool.
///
/// An installed cache answers every `getaddrinfo` in the process, including the resolver's own: an HTTP-DNS
/// resolver must reach its server by address (or look its name up with `cnh_real_getaddrinfo`), or its lookup
/// comes back to the cache that is waiting for it and waits out the lookup timeout.
public protocol Resolver: Sendable {
    /// A short name for reports and errors: `system`, `static`, `httpdns`.
    var name: String { get }
    func resolve(host: String, families: AddressFamilyPolicy) async throws(DNSError) -> DNSAnswer
}

/// Fixed answers, like curl's `--resolve host:port:addr`: `StaticResolver(["stream.test": ["127.0.0.1"]])`.
public struct StaticResolver: Resolver {
    public let name = "static"
    public let table: [String: [IPAddress]]
    public let ttl: Double?

    public init(_ table: [String: [IPAddress]], ttl: Double? = nil) {
        self.table = Dictionary(table.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: +)
        self.ttl = ttl
    }

    /// Parses `host=ip[,ip...]` entries, as `--resolve` takes them.
    public init(entries: [String], ttl: Double? = nil) throws(StaticResolverError) {
        var table: [String: [IPAddress]] = [:]
        for entry in entries {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty else { throw .malformed(entry) }
            var addresses: [IPAddress] = []
            for text in parts[1].split(separator: ",") {
                guard let address = IPAddress(String(text)) else { throw .malformed(entry) }
                addresses.append(address)
            }
            guard !addresses.isEmpty else { throw .malformed(entry) }
            table[String(parts[0]).lowercased(), default: []] += addresses
        }
        self.init(table, ttl: ttl)
    }

    public func resolve(host: String, families: AddressFamilyPolicy) throws(DNSError) -> DNSAnswer {
        guard let addresses = table[host.lowercased()] else { throw .noSuchHost(host) }
        let allowed = families.arrange(addresses)
        guard !allowed.isEmpty else { throw .noAddresses(host, families) }
        return DNSAnswer(addresses: allowed, ttl: ttl)
    }
}

public enum StaticResolverError: Error, Sendable, Hashable, CustomStringConvertible {
    case malformed(String)

    public var description: String {
        switch self {
        case .malformed(let entry): "expected host=ip[,ip...], got \"\(entry)\""
        }
    }
}

/// A resolver made of a closure: HTTP-DNS clients, or tests that inject delay and failure.
public struct ClosureResolver: Resolver {
    public let name: String
    private let body: @Sendable (String, AddressFamilyPolicy) async throws(DNSError) -> DNSAnswer

    public init(name: String, _ body: @escaping @Sendable (String, AddressFamilyPolicy) async throws(DNSError) -> DNSAnswer) {
        self.name = name
        self.body = body
    }

    public func resolve(host: String, families: AddressFamilyPolicy) async throws(DNSError) -> DNSAnswer {
        try await body(host, families)
    }
}
