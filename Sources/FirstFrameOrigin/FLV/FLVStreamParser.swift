/// An incremental FLV reader: feed it bytes as they arrive, take whole tags out.
///
/// Used by the origin to split what the muxer wrote, and by tests and load clients to check, tag by
/// tag, what a client received and when.
package struct FLVStreamParser: Sendable {
    package private(set) var header: FLVHeader?
    private var buffer: [UInt8] = []
    private var consumed = 0
    /// Bytes fed so far.
    package private(set) var totalBytes = 0

    package init() {}

    /// Appends bytes and returns the tags they completed.
    package mutating func append<Bytes: Sequence>(_ bytes: Bytes) throws(FLVParseError) -> [FLVTag]
    where Bytes.Element == UInt8 {
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
            let timestamp =
                UInt32(buffer[offset + 4]) << 16 | UInt32(buffer[offset + 5]) << 8
                | UInt32(buffer[offset + 6]) | UInt32(buffer[offset + 7]) << 24
            let payload = Array(buffer[(offset + 11)..<(offset + 11 + size)])
            let trailer = offset + 11 + size
            let previous =
                UInt32(buffer[trailer]) << 24 | UInt32(buffer[trailer + 1]) << 16
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
