import FirstFrameCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address, as the DNS cache stores it and the network trace reports it.
public struct IPAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    /// IPv4 or IPv6.
    public enum Family: String, Sendable, Codable {
        case ipv4, ipv6

        var posix: Int32 { self == .ipv4 ? AF_INET : AF_INET6 }
    }

    /// Network-order bytes: 4 for IPv4, 16 for IPv6.
    public let bytes: [UInt8]
    /// The IPv6 scope (interface) id; 0 for IPv4 and global addresses.
    public let scopeID: UInt32

    public var family: Family { bytes.count == 4 ? .ipv4 : .ipv6 }

    /// Parses a literal: `127.0.0.1`, `::1`, `fe80::1%2` (numeric scope). `nil` if it is not an address.
    public init?(_ text: String) {
        var text = Substring(text)
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        var scope: UInt32 = 0
        if let percent = text.firstIndex(of: "%") {
            guard let parsed = UInt32(text[text.index(after: percent)...]) else { return nil }
            scope = parsed
            text = text[..<percent]
        }
        var v4 = in_addr()
        if inet_pton(AF_INET, String(text), &v4) == 1, scope == 0 {
            self.bytes = withUnsafeBytes(of: &v4) { Array($0) }
            self.scopeID = 0
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, String(text), &v6) == 1 else { return nil }
        self.bytes = withUnsafeBytes(of: &v6) { Array($0) }
        self.scopeID = scope
    }

    public init?(bytes: [UInt8], scopeID: UInt32 = 0) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
        self.scopeID = bytes.count == 16 ? scopeID : 0
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let text = bytes.withUnsafeBytes { raw in
            inet_ntop(family.posix, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
                ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
        }
        return scopeID == 0 ? text : "\(text)%\(scopeID)"
    }

    public var isLoopback: Bool {
        family == .ipv4 ? bytes[0] == 127 : (bytes.dropLast().allSatisfy { $0 == 0 } && bytes[15] == 1)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = IPAddress(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not an IP address: \(text)")
            )
        }
        self = address
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
