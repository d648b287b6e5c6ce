import CNetworkHooks
import FirstFrameCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// TLS record headers: type (1), version (2), length (2), then the body.
enum TLSRecords {
    static let handshake: UInt8 = 0x16
    static let applicationData: UInt8 = 0x17

    /// The types of the records whose headers lie within `data`, walking record by record.
    static func types(in data: [UInt8]) -> [UInt8] {
        var types: [UInt8] = []
        var offset = 0
        while offset + 5 <= data.count, data[offset + 1] == 0x03, (0x14...0x18).contains(data[offset]) {
            types.append(data[offset])
            offset += 5 + Int(data[offset + 3]) << 8 + Int(data[offset + 4])
        }
        return types
    }
}
