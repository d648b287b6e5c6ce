import FirstFrameCore
import FirstFrameFFmpeg

/// One FLV tag: the unit the origin schedules, caches and fans out.
///
/// Layout (FLV 10.1 spec, E.4.1): type (1) · data size (3) · timestamp (3, low 24 bits) · timestamp
/// extended (1, high 8 bits) · stream id (3, always 0) · data · previous tag size (4).
package struct FLVTag: Sendable, Equatable {
    package enum Kind: UInt8, Sendable {
        case audio = 8
        case video = 9
        case script = 18
    }

    package var kind: Kind
    /// Milliseconds.
    package var timestamp: UInt32
    /// The tag's data (what follows the 11-byte header).
    package var payload: [UInt8]

    package init(kind: Kind, timestamp: UInt32, payload: [UInt8]) {
        self.kind = kind
        self.timestamp = timestamp
        self.payload = payload
    }

    /// A video tag whose frame type is 1 (key frame) and that carries a picture.
    package var isKeyframe: Bool {
        kind == .video && !payload.isEmpty && payload[0] >> 4 == 1 && !isSequenceHeader && !isEndOfSequence
    }

    /// An AVC or AAC sequence header (decoder configuration), not a frame.
    package var isSequenceHeader: Bool {
        guard payload.count >= 2 else { return false }
        switch kind {
        case .video: return payload[0] & 0x0F == 7 && payload[1] == 0
        case .audio: return payload[0] >> 4 == 10 && payload[1] == 0
        case .script: return false
        }
    }

    /// An AVC end-of-sequence marker (what FFmpeg's muxer writes at the end of a file): flagged as a key
    /// frame, but it carries no picture.
    package var isEndOfSequence: Bool {
        kind == .video && payload.count >= 2 && payload[0] & 0x0F == 7 && payload[1] == 2
    }

    /// The AVC end-of-sequence marker FFmpeg's FLV muxer writes in its trailer (a publisher that stops): the last
    /// tag of a stream that ended cleanly. FFmpeg's demuxer reads past it (it carries no data).
    package static func avcEndOfSequence(timestamp: UInt32) -> FLVTag {
        FLVTag(kind: .video, timestamp: timestamp, payload: [0x17, 2, 0, 0, 0])
    }

    /// A frame of media (not metadata, not a sequence header, not an end-of-sequence marker).
    package var isMedia: Bool { kind != .script && !isSequenceHeader && !isEndOfSequence }

    /// Where, in ``payload``, the data of the `AVPacket` that FFmpeg's FLV demuxer makes of this tag starts: after
    /// the 5-byte AVC video header (frame type and codec id, AVC packet type, 24-bit composition time), after the
    /// 2-byte AAC audio header (format byte, AAC packet type), after the 1-byte header of other codecs (Sorenson
    /// H.263, MP3, …). Nil for what the demuxer returns no packet for: script data, sequence headers,
    /// end-of-sequence markers, and tags with nothing after the header.
    ///
    /// The demuxer hands the rest of the tag over as it is for these codecs, with one exception the origin never
    /// sends: MP3 goes through a parser that may split or join frames, so its packets need not be whole tags.
    package var packetPayloadOffset: Int? {
        guard isMedia, let first = payload.first else { return nil }
        let offset: Int
        switch kind {
        case .video: offset = first & 0x0F == 7 ? 5 : 1
        case .audio: offset = first >> 4 == 10 ? 2 : 1
        case .script: return nil
        }
        return payload.count > offset ? offset : nil
    }

    /// The ``PacketDigest`` of the packet FFmpeg's FLV demuxer reads from this tag (see ``packetPayloadOffset``),
    /// timed at `timestamp` (or the tag's own); nil when the tag is not a packet. Its key flag is the demuxer's: set
    /// on video keyframes and on every audio packet.
    package func packetDigest(timestamp: UInt32? = nil) -> PacketDigest? {
        guard let offset = packetPayloadOffset else { return nil }
        let hash = payload.withUnsafeBytes { PayloadHash.hash(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
        return PacketDigest(
            kind: kind == .video ? .video : .audio,
            milliseconds: Int64(timestamp ?? self.timestamp),
            isKeyframe: kind == .audio || isKeyframe,
            size: payload.count - offset,
            hash: hash
        )
    }

    /// Size on the wire: header, data and the trailing previous-tag-size field.
    package var encodedSize: Int { 11 + payload.count + 4 }

    /// The tag as it goes on the wire, stamped with `timestamp` (or its own).
    package func encoded(timestamp: UInt32? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(encodedSize)
        let size = UInt32(payload.count)
        let time = timestamp ?? self.timestamp
        bytes.append(kind.rawValue)
        bytes.append(contentsOf: [UInt8(size >> 16 & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size & 0xFF)])
        bytes.append(contentsOf: [
            UInt8(time >> 16 & 0xFF), UInt8(time >> 8 & 0xFF), UInt8(time & 0xFF), UInt8(time >> 24),
        ])
        bytes.append(contentsOf: [0, 0, 0])
        bytes.append(contentsOf: payload)
        let previous = UInt32(11 + payload.count)
        bytes.append(contentsOf: [
            UInt8(previous >> 24), UInt8(previous >> 16 & 0xFF), UInt8(previous >> 8 & 0xFF), UInt8(previous & 0xFF),
        ])
        return bytes
    }

    /// The offset of the timestamp field inside ``encoded(timestamp:)``: the origin restamps cached
    /// tag bytes in place for each pass of the loop.
    static let timestampOffset = 4
}
