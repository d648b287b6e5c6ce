/// RFC 9112 chunked transfer coding taken off a body fed in pieces as the reads came, however the framing falls
/// across them (a size line or a CRLF split between two reads). Sizes are bounded: a hostile size cannot
/// overflow, it only ends the decoding.
package struct ChunkedDecoder: Sendable {
    private enum State: Sendable {
        case size(value: Int64, sawDigit: Bool, inExtension: Bool)
        case sizeLineFeed(size: Int64)
        case payload(remaining: Int64)
        case payloadCR, payloadLF
        case trailer(lineEmpty: Bool)
    }

    /// A chunk larger than this is not a media response's: the framing is taken as broken.
    package static let largestChunk: Int64 = 1 << 40

    private var state = State.size(value: 0, sawDigit: false, inExtension: false)
    /// The last chunk (size 0) and the trailer's blank line were read.
    package private(set) var finished = false
    /// The framing broke (a byte that cannot be there); nothing after it is payload anyone can place.
    package private(set) var broken = false

    package init() {}

    /// The payload bytes among `bytes` (up to where the framing ended or broke).
    package mutating func payload(in bytes: ArraySlice<UInt8>) -> [UInt8] {
        var payload: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex, !broken, !finished {
            let byte = bytes[index]
            switch state {
            case .size(let value, let sawDigit, let inExtension):
                if byte == 13 {
                    if sawDigit { state = .sizeLineFeed(size: value) } else { broken = true }
                } else if inExtension {
                    break
                } else if byte == 59 {  // ';' starts a chunk extension
                    state = .size(value: value, sawDigit: sawDigit, inExtension: true)
                } else if let digit = Self.hexValue(byte), value <= Self.largestChunk {
                    state = .size(value: value * 16 + digit, sawDigit: true, inExtension: false)
                } else {
                    broken = true
                }
            case .sizeLineFeed(let size):
                if byte != 10 || size > Self.largestChunk {
                    broken = true
                } else {
                    state = size == 0 ? .trailer(lineEmpty: true) : .payload(remaining: size)
                }
            case .payload(let remaining):
                let take = Int(min(remaining, Int64(bytes.endIndex - index)))
                payload += bytes[index..<(index + take)]
                index += take
                state = remaining - Int64(take) == 0 ? .payloadCR : .payload(remaining: remaining - Int64(take))
                continue
            case .payloadCR:
                if byte == 13 { state = .payloadLF } else { broken = true }
            case .payloadLF:
                if byte == 10 { state = .size(value: 0, sawDigit: false, inExtension: false) } else { broken = true }
            case .trailer(let lineEmpty):
                if byte == 10 {
                    if lineEmpty { finished = true } else { state = .trailer(lineEmpty: true) }
                } else if byte != 13 {
                    state = .trailer(lineEmpty: false)
                }
            }
            index += 1
        }
        return payload
    }

    private static func hexValue(_ byte: UInt8) -> Int64? {
        switch byte {
        case 48...57: Int64(byte - 48)
        case 65...70: Int64(byte - 55)
        case 97...102: Int64(byte - 87)
        default: nil
        }
    }
}
