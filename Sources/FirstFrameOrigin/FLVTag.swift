/// One FLV tag: the unit the origin schedules, caches and fans out.
///
/// Layout (FLV 10.1 spec, E.4.1): type (1) · data size (3) · timestamp (3, low 24 bits) · timestamp
/// extended (1, high 8 bits) · stream id (3, always 0) · data · previous tag size (4).
public struct FLVTag: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        case audio = 8
        case video = 9
        case script = 18
    }

    public var kind: Kind
    /// Milliseconds.
    public var timestamp: UInt32
    /// The tag's data (what follows the 11-byte header).
    public var payload: [UInt8]

    public init(kind: Kind, timestamp: UInt32, payload: [UInt8]) {
        self.kind = kind
        self.timestamp = timestamp
        self.payload = payload
    }

    /// A video tag whose frame type is 1 (key frame) and that carries a picture.
    public var isKeyframe: Bool {
        kind == .video && !payload.isEmpty && payload[0] >> 4 == 1 && !isSequenceHeader && !isEndOfSequence
    }

    /// An AVC or AAC sequence header (decoder configuration), not a frame.
    public var isSequenceHeader: Bool {
        guard payload.count >= 2 else { return false }
        switch kind {
        case .video: return payload[0] & 0x0F == 7 && payload[1] == 0
        case .audio: return payload[0] >> 4 == 10 && payload[1] == 0
        case .script: return false
        }
    }

    /// An AVC end-of-sequence marker (what FFmpeg's muxer writes at the end of a file): flagged as a key
    /// frame, but it carries no picture.
    public var isEndOfSequence: Bool {
        kind == .video && payload.count >= 2 && payload[0] & 0x0F == 7 && payload[1] == 2
    }

    /// A frame of media (not metadata, not a sequence header, not an end-of-sequence marker).
    public var isMedia: Bool { kind != .script && !isSequenceHeader && !isEndOfSequence }

    /// Size on the wire: header, data and the trailing previous-tag-size field.
    public var encodedSize: Int { 11 + payload.count + 4 }

    /// The tag as it goes on the wire, stamped with `timestamp` (or its own).
    public func encoded(timestamp: UInt32? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(encodedSize)
        let size = UInt32(payload.count)
        let time = timestamp ?? self.timestamp
        bytes.append(kind.rawValue)
        bytes.append(contentsOf: [UInt8(size >> 16 & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size & 0xFF)])
        bytes.append(contentsOf: [UInt8(time >> 16 & 0xFF), UInt8(time >> 8 & 0xFF), UInt8(time & 0xFF), UInt8(time >> 24)])
        bytes.append(contentsOf: [0, 0, 0])
        bytes.append(contentsOf: payload)
        let previous = UInt32(11 + payload.count)
        bytes.append(contentsOf: [UInt8(previous >> 24), UInt8(previous >> 16 & 0xFF), UInt8(previous >> 8 & 0xFF), UInt8(previous & 0xFF)])
        return bytes
    }

    /// The offset of the timestamp field inside ``encoded(timestamp:)``: the origin restamps cached
    /// tag bytes in place for each pass of the loop.
    static let timestampOffset = 4
}

/// The FLV file header that starts every response.
public struct FLVHeader: Sendable, Equatable {
    public var hasAudio: Bool
    public var hasVideo: Bool

    public init(hasAudio: Bool, hasVideo: Bool) {
        self.hasAudio = hasAudio
        self.hasVideo = hasVideo
    }

    /// 9 header bytes plus the first (zero) previous-tag-size.
    public static let encodedSize = 13

    public func encoded() -> [UInt8] {
        let flags: UInt8 = (hasAudio ? 0x04 : 0) | (hasVideo ? 0x01 : 0)
        return [0x46, 0x4C, 0x56, 0x01, flags, 0, 0, 0, 9, 0, 0, 0, 0]
    }
}

/// Errors found while reading an FLV byte stream.
public enum FLVParseError: Error, Equatable, Sendable {
    case notFLV
    case unsupportedTagType(UInt8, offset: Int)
    case previousTagSizeMismatch(expected: UInt32, found: UInt32, offset: Int)
}

/// An incremental FLV reader: feed it bytes as they arrive, take whole tags out.
///
/// Used by the origin to split what the muxer wrote, and by tests and load clients to check, tag by
/// tag, what a client received and when.
public struct FLVStreamParser: Sendable {
    public private(set) var header: FLVHeader?
    private var buffer: [UInt8] = []
    private var consumed = 0
    /// Bytes fed so far.
    public private(set) var totalBytes = 0

    public init() {}

    /// Appends bytes and returns the tags they completed.
    public mutating func append<Bytes: Sequence>(_ bytes: Bytes) throws(FLVParseError) -> [FLVTag] where Bytes.Element == UInt8 {
        let before = buffer.count
        buffer.append(contentsOf: bytes)
        totalBytes += buffer.count - before
        var tags: [FLVTag] = []
        if header == nil {
            guard buffer.count >= FLVHeader.encodedSize else { return [] }
            guard buffer[0] == 0x46, buffer[1] == 0x4C, buffer[2] == 0x56 else { throw .notFLV }
            let headerSize = Int(buffer[5]) << 24 | Int(buffer[6]) << 16 | Int(buffer[7]) << 8 | Int(buffer[8])
            guard buffer.count >= headerSize + 4 else { return [] }
            header = FLVHeader(hasAudio: buffer[4] & 0x04 != 0, hasVideo: buffer[4] & 0x01 != 0)
            buffer.removeFirst(headerSize + 4)
            consumed += headerSize + 4
        }
        var offset = 0
        while buffer.count - offset >= 11 {
            let type = buffer[offset]
            let size = Int(buffer[offset + 1]) << 16 | Int(buffer[offset + 2]) << 8 | Int(buffer[offset + 3])
            guard buffer.count - offset >= 11 + size + 4 else { break }
            guard let kind = FLVTag.Kind(rawValue: type & 0x1F) else {
                throw .unsupportedTagType(type, offset: consumed + offset)
            }
            let timestamp = UInt32(buffer[offset + 4]) << 16 | UInt32(buffer[offset + 5]) << 8
                | UInt32(buffer[offset + 6]) | UInt32(buffer[offset + 7]) << 24
            let payload = Array(buffer[(offset + 11)..<(offset + 11 + size)])
            let trailer = offset + 11 + size
            let previous = UInt32(buffer[trailer]) << 24 | UInt32(buffer[trailer + 1]) << 16
                | UInt32(buffer[trailer + 2]) << 8 | UInt32(buffer[trailer + 3])
            guard previous == UInt32(11 + size) else {
                throw .previousTagSizeMismatch(expected: UInt32(11 + size), found: previous, offset: consumed + trailer)
            }
            tags.append(FLVTag(kind: kind, timestamp: timestamp, payload: payload))
            offset = trailer + 4
        }
        if offset > 0 {
            buffer.removeFirst(offset)
            consumed += offset
        }
        return tags
    }
}
