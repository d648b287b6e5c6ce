import CFFmpeg
import FirstFrameCore

/// What a content check compares of one media packet: its kind, its time, its key flag, and the size and
/// ``PayloadHash`` of its payload (the `AVPacket`'s data, as a demuxer returns it).
///
/// Built from a packet read back from a file (``init(_:)``, ``read(url:)``), or by the loopback origin from an FLV
/// tag it sends (over the bytes FFmpeg's FLV demuxer would return for it). In JSON the hash is 16 hexadecimal
/// digits, since JSON numbers lose integers above 2⁵³ in most readers:
/// `{"kind":"video","time":1040,"key":true,"size":4312,"hash":"9ae16a3b2f90404f"}`.
package struct PacketDigest: Sendable, Hashable, Codable, CustomStringConvertible {
    package var kind: StreamInfo.Kind
    /// The packet's decoding time (its pts when it has no dts), in milliseconds: an FLV tag's timestamp.
    package var milliseconds: Int64
    package var isKeyframe: Bool
    /// Payload bytes.
    package var size: Int
    /// ``PayloadHash`` of the payload.
    package var hash: UInt64

    package init(kind: StreamInfo.Kind, milliseconds: Int64, isKeyframe: Bool, size: Int, hash: UInt64) {
        self.kind = kind
        self.milliseconds = milliseconds
        self.isKeyframe = isKeyframe
        self.size = size
        self.hash = hash
    }

    /// The digest of a packet read from a demuxer (its time base and kind set by the read); nil when it has no
    /// timestamp to place it by.
    package init?(_ packet: Packet) {
        guard let ticks = packet.dts ?? packet.pts, packet.timeBase.denominator > 0 else { return nil }
        let bytes = UnsafeRawBufferPointer(start: packet.pointer.pointee.data, count: packet.size)
        self.init(
            kind: packet.mediaKind,
            milliseconds: packet.timeBase.rescale(ticks, to: Rational(1, 1000)),
            isKeyframe: packet.isKeyframe,
            size: packet.size,
            hash: PayloadHash.hash(bytes)
        )
    }

    /// The audio and video packets of the file (or stream) at `url`, a path or any URL FFmpeg opens, in the order
    /// the demuxer returns them (interleaved by time), to the end of the input. Empty packets and packets without a
    /// timestamp are left out: no demuxer returns them as media. Blocking: call it on a thread of its own.
    package static func read(url: String) throws(FFmpegError) -> [PacketDigest] {
        let input = try InputFormatContext(url: url)
        let packet = Packet()
        var digests: [PacketDigest] = []
        while try input.read(into: packet) {
            guard packet.mediaKind == .video || packet.mediaKind == .audio, packet.size > 0,
                let digest = PacketDigest(packet)
            else { continue }
            digests.append(digest)
        }
        return digests
    }

    /// The hash as 16 lowercase hexadecimal digits.
    package var hashText: String {
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    package var description: String {
        "\(kind.rawValue) \(milliseconds) ms\(isKeyframe ? " key" : "") \(size) B #\(hashText)"
    }

    private enum CodingKeys: String, CodingKey { case kind, time, key, size, hash }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let text = try container.decode(String.self, forKey: .hash)
        guard text.count == 16, let hash = UInt64(text, radix: 16) else {
            throw DecodingError.dataCorruptedError(
                forKey: .hash,
                in: container,
                debugDescription: "not 16 hex digits: \(text)"
            )
        }
        self.init(
            kind: try container.decode(StreamInfo.Kind.self, forKey: .kind),
            milliseconds: try container.decode(Int64.self, forKey: .time),
            isKeyframe: try container.decode(Bool.self, forKey: .key),
            size: try container.decode(Int.self, forKey: .size),
            hash: hash
        )
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(milliseconds, forKey: .time)
        try container.encode(isKeyframe, forKey: .key)
        try container.encode(size, forKey: .size)
        try container.encode(hashText, forKey: .hash)
    }
}
