import FirstFrameCore

/// Reads the answer section of a DNS response (RFC 1035 §4): the A/AAAA addresses and the smallest TTL among
/// the answer records, which getaddrinfo does not reveal.
struct DNSMessage {
    enum RecordType: UInt16 {
        case a = 1
        case cname = 5
        case aaaa = 28
    }

    var addresses: [IPAddress] = []
    /// The smallest TTL of the answer records (a CNAME's included), in seconds.
    var minimumTTL: UInt32?
    /// RCODE: 0 no error, 3 NXDOMAIN.
    var responseCode: UInt8

    enum ParseError: Error { case truncated, pointerLoop }

    init(parsing bytes: [UInt8]) throws(ParseError) {
        guard bytes.count >= 12 else { throw .truncated }
        responseCode = bytes[3] & 0x0F
        let questions = Int(bytes[4]) << 8 | Int(bytes[5])
        let answers = Int(bytes[6]) << 8 | Int(bytes[7])
        var offset = 12
        for _ in 0..<questions {
            offset = try Self.skipName(bytes, at: offset) + 4
        }
        for _ in 0..<answers {
            offset = try Self.skipName(bytes, at: offset)
            guard offset + 10 <= bytes.count else { throw .truncated }
            let type = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
            let ttl = bytes[offset + 4..<offset + 8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let length = Int(bytes[offset + 8]) << 8 | Int(bytes[offset + 9])
            offset += 10
            guard offset + length <= bytes.count else { throw .truncated }
            let data = Array(bytes[offset..<offset + length])
            offset += length
            switch RecordType(rawValue: type) {
            case .a where length == 4, .aaaa where length == 16:
                if let address = IPAddress(bytes: data) { addresses.append(address) }
            case .cname:
                break
            default:
                continue
            }
            minimumTTL = min(minimumTTL ?? ttl, ttl)
        }
    }

    /// The offset just past a (possibly compressed) name.
    private static func skipName(_ bytes: [UInt8], at start: Int) throws(ParseError) -> Int {
        var offset = start
        var labels = 0
        while true {
            guard offset < bytes.count else { throw .truncated }
            let length = Int(bytes[offset])
            if length == 0 { return offset + 1 }
            if length & 0xC0 == 0xC0 { return offset + 2 }  // a pointer ends the name
            offset += 1 + length
            labels += 1
            if labels > 127 { throw .pointerLoop }
        }
    }
}
