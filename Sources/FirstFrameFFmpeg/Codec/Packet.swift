import CFFmpeg
import FirstFrameCore

/// An owned `AVPacket`; the packet and its buffer are freed with the object.
///
/// Not `Sendable`: a packet has one owner at a time. Hand it to another task with `sending` (what
/// `OpenedStream`'s reads return), and do not touch it after.
public final class Packet {
    package let pointer: UnsafeMutablePointer<AVPacket>
    /// The time base of ``pts``, ``dts`` and ``duration``: the stream's, set when the packet is read.
    public package(set) var timeBase = Rational(0, 1)
    /// The kind of stream the packet belongs to, set when the packet is read.
    public package(set) var mediaKind: StreamInfo.Kind = .other

    /// `AV_PKT_FLAG_*`: what the demuxer says about a packet.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        /// A keyframe: decoding can start here.
        public static let key = Flags(rawValue: AV_PKT_FLAG_KEY)
        /// Damaged: cut short by a dropped connection, or a container's continuity check failed.
        public static let corrupt = Flags(rawValue: AV_PKT_FLAG_CORRUPT)
        /// Needed by the decoder to go on, but not to be shown.
        public static let discard = Flags(rawValue: AV_PKT_FLAG_DISCARD)
        /// No other frame refers to it: droppable without harm.
        public static let disposable = Flags(rawValue: AV_PKT_FLAG_DISPOSABLE)
    }

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
    /// The demuxer's flags.
    public var flags: Flags { Flags(rawValue: pointer.pointee.flags) }

    /// ``pts`` in seconds.
    public var ptsSeconds: Double? { pts.map(timeBase.seconds) }
    /// ``dts`` in seconds.
    public var dtsSeconds: Double? { dts.map(timeBase.seconds) }
    /// ``duration`` in seconds.
    public var durationSeconds: Double? { duration.map(timeBase.seconds) }

    /// Moves the timestamps by `offset` ticks of ``timeBase`` (a recorder splicing connections together).
    package func shiftTimestamps(by offset: Int64) {
        if pointer.pointee.pts != CFFMPEG_AV_NOPTS_VALUE { pointer.pointee.pts += offset }
        if pointer.pointee.dts != CFFMPEG_AV_NOPTS_VALUE { pointer.pointee.dts += offset }
    }

    /// A new packet sharing this one's payload (`av_packet_ref`, no copy), with the same timestamps, time base and
    /// kind: to write one packet to several files (a muxer takes the payload of the packet it is given).
    public func sharedReference() -> Packet {
        let copy = Packet()
        guard av_packet_ref(copy.pointer, pointer) == 0 else { fatalError("av_packet_ref: out of memory") }
        copy.timeBase = timeBase
        copy.mediaKind = mediaKind
        return copy
    }

    /// The payload bytes, copied.
    public var bytes: [UInt8] {
        guard let data = pointer.pointee.data, size > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// ``PayloadHash`` of the payload: what a recorder recognises a packet sent again by (the timestamps an edge
    /// puts on it may differ).
    public var contentHash: UInt64 {
        guard let data = pointer.pointee.data, size > 0 else {
            return PayloadHash.hash(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        return PayloadHash.hash(UnsafeRawBufferPointer(start: data, count: size))
    }

    /// The codec configuration the demuxer attached to this packet because it changed mid-stream
    /// (`AV_PKT_DATA_NEW_EXTRADATA`: FLV's new AVC or AAC sequence header), nil when it did not change here.
    public var newExtradata: [UInt8]? {
        var size: Int = 0
        guard let data = av_packet_get_side_data(pointer, AV_PKT_DATA_NEW_EXTRADATA, &size), size > 0 else {
            return nil
        }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// Empties the new-codec-configuration side data, so that a muxer does not act on it: a recorder that starts a
    /// new file with the new configuration instead (Matroska's muxer rewrites an AAC track's configuration in a
    /// header it already wrote, and damages the file).
    package func dropNewExtradata() {
        av_packet_shrink_side_data(pointer, AV_PKT_DATA_NEW_EXTRADATA, 0)
    }

    /// Adds `flags` to the demuxer's (``Flags/discard`` on a keyframe a decoder must take but not show).
    package func addFlags(_ flags: Flags) { pointer.pointee.flags |= flags.rawValue }

    /// Drops the payload so the packet can be reused.
    public func unref() { av_packet_unref(pointer) }
}
