import FirstFrameCore

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
