import CNetworkHooks
import FirstFrameCore
import Foundation

/// The system's resolver, with the records' real TTL where DNS can tell it.
///
/// With `readsRecordTTL`, a name goes to the configured DNS servers through libresolv (`res_nquery`), whose raw
/// answer carries the TTL. Unless `nameserver` is set (then every name goes to it, and its answer is final), names
/// in `/etc/hosts` and special-use names (`localhost`, `.test`, `.local`…, which must never leave the machine) go
/// to libc's `getaddrinfo` instead, as does a name DNS has no address for. The getaddrinfo answer has no TTL, so
/// the cache applies its configured one. Both calls block and neither can be interrupted, so they run on the
/// bounded ``BlockingPool/resolvers`` pool: a caller stops waiting at its deadline while the call runs on.
public struct SystemResolver: Resolver, BlockingResolver {
    public let name = "system"
    public var readsRecordTTL: Bool
    /// Replaces every name server of `/etc/resolv.conf` (IPv4 or IPv6): a test server on loopback, a local cache.
    public var nameserver: SocketAddress?
    /// libresolv's per-try timeout (seconds) and tries per server.
    public var queryTimeoutSeconds: Int
    public var queryAttempts: Int

    public init(
        readsRecordTTL: Bool = true,
        nameserver: SocketAddress? = nil,
        queryTimeoutSeconds: Int = 2,
        queryAttempts: Int = 2
    ) {
        self.readsRecordTTL = readsRecordTTL
        self.nameserver = nameserver
        self.queryTimeoutSeconds = queryTimeoutSeconds
        self.queryAttempts = queryAttempts
    }

    public func resolve(host: String, families: AddressFamilyPolicy) async throws(DNSError) -> DNSAnswer {
        let resolver = self
        return try await BlockingPool.resolvers.run {
            Result { () throws(DNSError) in try resolver.resolveBlocking(host: host, families: families) }
        }.get()
    }

    package func resolveBlocking(host: String, families: AddressFamilyPolicy) throws(DNSError) -> DNSAnswer {
        if readsRecordTTL, nameserver != nil || (!Self.isSpecialUse(host) && !HostsFile.lists(host)) {
            if let answer = try queryDNS(host: host, families: families) { return answer }
        }
        return try getaddrinfo(host: host, families: families)
    }

    // MARK: DNS through libresolv

    private enum HostError: Int32 {
        case hostNotFound = 1
        case tryAgain = 2
        case noRecovery = 3
        case noData = 4
    }

    /// The addresses and TTL from DNS, `nil` when DNS has no address and libc should be asked instead.
    private func queryDNS(host: String, families: AddressFamilyPolicy) throws(DNSError) -> DNSAnswer? {
        var addresses: [IPAddress] = []
        var ttl: UInt32?
        var notFound = false
        var failure: String?
        let types: [DNSMessage.RecordType] =
            switch families {
            case .ipv4Only: [.a]
            case .ipv6Only: [.aaaa]
            case .both: [.aaaa, .a]
            }
        for type in types {
            var answer = [UInt8](repeating: 0, count: 4096)
            var hostError: Int32 = 0
            let length: Int32 = withServer { server in
                cnh_res_query(
                    host,
                    Int32(type.rawValue),
                    server,
                    Int32(queryTimeoutSeconds),
                    Int32(queryAttempts),
                    &answer,
                    Int32(answer.count),
                    &hostError
                )
            }
            guard length >= 0 else {
                switch HostError(rawValue: hostError) {
                case .hostNotFound: notFound = true
                case .noData: break
                default: failure = "res_nquery h_errno \(hostError)"
                }
                continue
            }
            guard let message = try? DNSMessage(parsing: Array(answer.prefix(Int(length)))) else {
                failure = "malformed DNS answer"
                continue
            }
            addresses += message.addresses
            if let recordTTL = message.minimumTTL { ttl = min(ttl ?? recordTTL, recordTTL) }
        }
        let allowed = families.arrange(addresses)
        if !allowed.isEmpty { return DNSAnswer(addresses: allowed, ttl: ttl.map(Double.init)) }
        guard nameserver != nil else { return nil }
        if notFound { throw .noSuchHost(host) }
        if let failure { throw .failed(host, resolver: name, reason: failure) }
        throw .noAddresses(host, families)
    }

    private func withServer<T>(_ body: (UnsafePointer<sockaddr>?) -> T) -> T {
        guard let nameserver else { return body(nil) }
        var storage = nameserver.storage
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0) }
        }
    }

    // MARK: libc

    private func getaddrinfo(host: String, families: AddressFamilyPolicy) throws(DNSError) -> DNSAnswer {
        var hints = addrinfo()
        hints.ai_family =
            switch families {
            case .ipv4Only: AF_INET
            case .ipv6Only: AF_INET6
            case .both: AF_UNSPEC
            }
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        // The real getaddrinfo: going through the hook would ask the cache, which asked us.
        let status = cnh_real_getaddrinfo(host, nil, &hints, &list)
        defer { if let list { cnh_real_freeaddrinfo(list) } }
        guard status == 0 else {
            switch status {
            case EAI_NONAME: throw .noSuchHost(host)
            // -5: EAI_NODATA, -9: EAI_ADDRFAMILY (glibc's, not exported by Swift's Glibc).
            case -5, -9: throw .noAddresses(host, families)
            default: throw .failed(host, resolver: name, reason: String(cString: gai_strerror(status)))
            }
        }
        var addresses: [IPAddress] = []
        var node = list
        while let info = node {
            if let address = info.pointee.ai_addr,
                let socket = SocketAddress(
                    sockaddrBytes: UnsafeRawBufferPointer(start: address, count: Int(info.pointee.ai_addrlen))
                )
            {
                addresses.append(socket.address)
            }
            node = info.pointee.ai_next
        }
        let allowed = families.arrange(addresses)
        guard !allowed.isEmpty else { throw .noAddresses(host, families) }
        return DNSAnswer(addresses: allowed, ttl: nil)
    }

    // MARK: names that stay on the machine

    /// RFC 6761/6762 special-use names and single-label names: never sent to DNS servers.
    static func isSpecialUse(_ host: String) -> Bool {
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        guard name.contains(".") else { return true }
        return ["localhost", "test", "invalid", "example", "local", "home.arpa"].contains {
            name == $0 || name.hasSuffix("." + $0)
        }
    }

    private enum HostsFile {
        static func lists(_ host: String) -> Bool {
            guard let text = try? String(contentsOfFile: "/etc/hosts", encoding: .utf8) else { return false }
            let name = host.lowercased()
            for line in text.split(whereSeparator: \.isNewline) {
                let fields = line.prefix { $0 != "#" }.split(whereSeparator: \.isWhitespace)
                if fields.dropFirst().contains(where: { $0.lowercased() == name }) { return true }
            }
            return false
        }
    }
}
