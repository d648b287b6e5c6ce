import FirstFrameCore
import CFFmpeg

/// An owned `AVPacket`; the packet and its buffer are freed with the object.
public final class Packet {
    package let pointer: UnsafeMutablePointer<AVPacket>

    public init() {
        guard let packet = av_packet_alloc() else { fatalError("av_packet_alloc: out of memory") }
        pointer = packet
    }

    deinit {
        var packet: UnsafeMutablePointer<AVPacket>? = pointer
        av_packet_free(&packet)
    }

    public var streamIndex: Int { Int(pointer.pointee.stream_index) }
    public var size: Int { Int(pointer.pointee.size) }
    /// Presentation timestamp in the stream's time base, `nil` when FFmpeg has none.
    public var pts: Int64? { pointer.pointee.pts == CFFMPEG_AV_NOPTS_VALUE ? nil : pointer.pointee.pts }
    /// Decoding timestamp in the stream's time base, `nil` when FFmpeg has none.
    public var dts: Int64? { pointer.pointee.dts == CFFMPEG_AV_NOPTS_VALUE ? nil : pointer.pointee.dts }
    /// Byte offset of the packet in the input, when the demuxer knows it.
    public var position: Int64? { pointer.pointee.pos < 0 ? nil : pointer.pointee.pos }
    /// The demuxer flagged the packet as a keyframe (`AV_PKT_FLAG_KEY`).
    public var isKeyframe: Bool { pointer.pointee.flags & AV_PKT_FLAG_KEY != 0 }
    /// The demuxer flagged the packet as corrupt (`AV_PKT_FLAG_CORRUPT`), e.g. cut short by a dropped connection.
    public var isCorrupt: Bool { pointer.pointee.flags & AV_PKT_FLAG_CORRUPT != 0 }
    /// Duration in the stream's time base, `nil` when the demuxer does not know it.
    public var duration: Int64? { pointer.pointee.duration > 0 ? pointer.pointee.duration : nil }

    /// The payload bytes, copied.
    public var bytes: [UInt8] {
        guard let data = pointer.pointee.data, size > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// Drops the payload so the packet can be reused.
    public func unref() { av_packet_unref(pointer) }
}
