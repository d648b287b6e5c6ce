import FirstFrameCore

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
