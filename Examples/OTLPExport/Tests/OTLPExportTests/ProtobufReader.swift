/// Just enough of the protobuf wire format to read OTLP requests field by field: the test decodes what the
/// collector received without the generated OTLP types (which swift-otel keeps internal).
struct ProtobufReader {
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes([UInt8])
        case fixed32(UInt32)
    }

    struct Malformed: Error {}

    /// The fields of one message, in order: (field number, value).
    static func fields(_ bytes: [UInt8]) throws -> [(Int, Value)] {
        var fields: [(Int, Value)] = []
        var index = 0
        func varint() throws -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard index < bytes.count, shift < 64 else { throw Malformed() }
                let byte = bytes[index]
                index += 1
                result |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
        }
        func fixed(_ count: Int) throws -> UInt64 {
            guard index + count <= bytes.count else { throw Malformed() }
            var value: UInt64 = 0
            for offset in (0..<count).reversed() { value = value << 8 | UInt64(bytes[index + offset]) }
            index += count
            return value
        }
        while index < bytes.count {
            let key = try varint()
            let number = Int(key >> 3)
            switch key & 7 {
            case 0: fields.append((number, .varint(try varint())))
            case 1: fields.append((number, .fixed64(try fixed(8))))
            case 2:
                let length = Int(try varint())
                guard length >= 0, index + length <= bytes.count else { throw Malformed() }
                fields.append((number, .bytes(Array(bytes[index..<index + length]))))
                index += length
            case 5: fields.append((number, .fixed32(UInt32(try fixed(4)))))
            default: throw Malformed()
            }
        }
        return fields
    }

    /// The embedded messages (or strings) in field `number`.
    static func messages(_ bytes: [UInt8], _ number: Int) throws -> [[UInt8]] {
        try fields(bytes).compactMap { field, value in
            guard field == number, case .bytes(let inner) = value else { return nil }
            return inner
        }
    }

    static func string(_ bytes: [UInt8], _ number: Int) throws -> String? {
        try messages(bytes, number).first.map { String(decoding: $0, as: UTF8.self) }
    }

    static func fixed64(_ bytes: [UInt8], _ number: Int) throws -> UInt64? {
        try fields(bytes).lazy.compactMap { field, value -> UInt64? in
            guard field == number, case .fixed64(let value) = value else { return nil }
            return value
        }.first
    }
}
