/// An AMF0 value, decoded just far enough to read RTMP commands (`connect`, `_result`, `onStatus`) and data
/// messages (`onMetaData`): what the exchange analysis needs, not a general AMF library.
///
/// Decoding is defensive: the bytes come from a trace and may be cut short or be anything at all, so every read
/// is bounds-checked and nesting is limited (an object inside an object inside … must not exhaust the stack).
package enum AMF0Value: Sendable, Hashable {
    case number(Double)
    case boolean(Bool)
    case string(String)
    /// An anonymous object, an ECMA array or a typed object: its properties in order.
    case object([Property])
    case strictArray([AMF0Value])
    case date(Double)
    case null
    case undefined
    /// A type this decoder does not read (a reference, an AMF3 switch, XML …): decoding stops after it.
    case unsupported(UInt8)

    package struct Property: Sendable, Hashable {
        package var key: String
        package var value: AMF0Value
    }

    /// Objects nested deeper than this are not followed; real commands nest two or three levels.
    package static let maximumDepth = 16
    /// At most this many values are read from one payload (a data message's arrays can be long; the analysis
    /// needs the first few values).
    package static let maximumValues = 4096

    /// The string, if this is one.
    package var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The number, if this is one.
    package var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The value of property `key`, if this is an object that has it.
    package subscript(key: String) -> AMF0Value? {
        guard case .object(let properties) = self else { return nil }
        return properties.first { $0.key == key }?.value
    }

    /// The values at the start of `bytes`, in order, as far as they decode: a truncated or unreadable value ends
    /// the list (the values before it are kept).
    package static func decodeAll(_ bytes: ArraySlice<UInt8>) -> [AMF0Value] {
        var reader = Reader(bytes: bytes)
        var values: [AMF0Value] = []
        while !reader.atEnd, values.count < maximumValues, let value = reader.value(depth: 0) {
            values.append(value)
            if case .unsupported = value { break }
        }
        return values
    }

    /// A cursor over the payload; every read returns nil when the bytes run out.
    private struct Reader {
        let bytes: ArraySlice<UInt8>
        var position: Int
        /// Values read so far, nested ones included: an object of a million empty keys must stop somewhere.
        var budget = AMF0Value.maximumValues

        init(bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            position = bytes.startIndex
        }

        var atEnd: Bool { position >= bytes.endIndex }

        mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard count >= 0, bytes.endIndex - position >= count else { return nil }
            defer { position += count }
            return bytes[position..<position + count]
        }

        mutating func byte() -> UInt8? { take(1)?.first }

        mutating func unsigned(_ width: Int) -> UInt64? {
            guard let raw = take(width) else { return nil }
            return raw.reduce(0) { $0 << 8 | UInt64($1) }
        }

        mutating func double() -> Double? { unsigned(8).map { Double(bitPattern: $0) } }

        mutating func utf8(length: Int) -> String? { take(length).map { String(decoding: $0, as: UTF8.self) } }

        mutating func shortString() -> String? {
            guard let length = unsigned(2) else { return nil }
            return utf8(length: Int(length))
        }

        mutating func longString() -> String? {
            guard let length = unsigned(4), length <= UInt64(bytes.count) else { return nil }
            return utf8(length: Int(length))
        }

        /// Properties up to the object-end marker (an empty key followed by type 9).
        mutating func properties(depth: Int) -> [Property]? {
            var properties: [Property] = []
            while true {
                guard let key = shortString() else { return nil }
                if key.isEmpty, bytes.endIndex > position, bytes[position] == 0x09 {
                    position += 1
                    return properties
                }
                guard let value = value(depth: depth + 1) else { return nil }
                properties.append(Property(key: key, value: value))
            }
        }

        mutating func value(depth: Int) -> AMF0Value? {
            guard depth <= AMF0Value.maximumDepth, budget > 0, let marker = byte() else { return nil }
            budget -= 1
            switch marker {
            case 0x00: return double().map(AMF0Value.number)
            case 0x01: return byte().map { .boolean($0 != 0) }
            case 0x02: return shortString().map(AMF0Value.string)
            case 0x03: return properties(depth: depth).map(AMF0Value.object)
            case 0x05: return .null
            case 0x06: return .undefined
            case 0x08:
                // ECMA array: a count (not to be trusted) and then properties as in an object.
                guard unsigned(4) != nil else { return nil }
                return properties(depth: depth).map(AMF0Value.object)
            case 0x0A:
                guard let count = unsigned(4) else { return nil }
                var elements: [AMF0Value] = []
                // Each element takes at least one byte, so a count beyond the bytes left is a lie.
                guard count <= UInt64(bytes.endIndex - position) else { return nil }
                for _ in 0..<count {
                    guard let element = value(depth: depth + 1) else { return nil }
                    elements.append(element)
                }
                return .strictArray(elements)
            case 0x0B:
                guard let milliseconds = double(), take(2) != nil else { return nil }
                return .date(milliseconds)
            case 0x0C: return longString().map(AMF0Value.string)
            case 0x10:
                // Typed object: a class name, then properties.
                guard shortString() != nil else { return nil }
                return properties(depth: depth).map(AMF0Value.object)
            default: return .unsupported(marker)
            }
        }
    }
}
