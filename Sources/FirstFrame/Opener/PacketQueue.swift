import FirstFrameFFmpeg

/// Every packet the open reads, in order, handed on to the kept stream after the first picture; with what the
/// report needs of them: where the first keyframe is, when it was read and which bytes of the input it spans.
///
/// Reads stop the open, before the first picture, when the input ends or the queue holds `maxBufferBytes`.
struct PacketQueue {
    /// The packets read, in order.
    private(set) var packets: [Packet] = []
    /// Bytes of ``packets``: capped by `maxBufferBytes` until the first picture.
    private(set) var bytes = 0
    /// The first video keyframe's index in ``packets`` (of any video stream).
    private(set) var firstKeyframeIndex: Int?
    /// When the first video keyframe was read (`MonotonicClock`).
    private(set) var firstKeyframeRead: UInt64?
    /// Where the first keyframe's bytes start and end in the input, to find when they arrived.
    private(set) var firstKeyframeBytes: Range<Int64>?
    /// Whether the stream information is known: a full queue then fails `buffering`, before it `streamInfo`.
    var streamInfoFound = false

    private let maxBytes: Int
    /// Told when the first video keyframe has been read, with the input it came from (nil: nobody listens).
    private let onFirstKeyframe: ((InputFormatContext, UInt64, Range<Int64>?) -> Void)?

    init(
        maxBytes: Int,
        onFirstKeyframe: ((_ input: InputFormatContext, _ readAt: UInt64, _ bytes: Range<Int64>?) -> Void)?
    ) {
        self.maxBytes = maxBytes
        self.onFirstKeyframe = onFirstKeyframe
    }

    var count: Int { packets.count }

    /// Reads one packet onto the queue; throws at the end of the input (before the first picture, that is a
    /// failure: the stream ended).
    @discardableResult
    mutating func read(from input: InputFormatContext) throws -> Packet {
        let packet = Packet()
        guard try input.read(into: packet) else {
            throw PipelineFailure(
                stage: .streamInfo,
                kind: .endOfStream,
                message: "the input ended before the first picture"
            )
        }
        packets.append(packet)
        bytes += packet.size
        if bytes > maxBytes { throw bufferLimitFailure() }
        if firstKeyframeIndex == nil, packet.isKeyframe, packet.mediaKind == .video {
            firstKeyframeIndex = packets.count - 1
            let readAt = MonotonicClock.nanoseconds()
            firstKeyframeRead = readAt
            firstKeyframeBytes = packet.position.map { $0..<($0 + Self.containerBytes(input, packet)) }
            onFirstKeyframe?(input, readAt, firstKeyframeBytes)
        }
        return packet
    }

    /// Where the video stream's first keyframe is on the queue: at or after the first video keyframe of any
    /// stream (an input may carry more than one video stream).
    func firstKeyframe(of video: Int) -> Int? {
        guard let first = firstKeyframeIndex else { return nil }
        return packets[first...].firstIndex { $0.streamIndex == video && $0.isKeyframe }
    }

    /// Drops every packet: they go with an input the open does not hand on.
    mutating func removeAll() {
        packets = []
    }

    /// The failure for a queue that reached `maxBufferBytes`: no video (a stream that was announced but never
    /// came, or none at all) when no video packet is queued, else the cap itself.
    private func bufferLimitFailure() -> PipelineFailure {
        let videoQueued = packets.contains { $0.mediaKind == .video }
        let held = "\(bytes) bytes in \(packets.count) packets (maxBufferBytes \(maxBytes))"
        return videoQueued
            ? PipelineFailure(
                stage: streamInfoFound ? .buffering : .streamInfo,
                kind: .bufferLimit,
                message: "no decodable picture in \(held)"
            )
            : PipelineFailure(stage: .streamInfo, kind: .noVideo, message: "no video packet in \(held)")
    }

    /// The bytes a packet spans in the input from its position: FLV's position is the tag's start, before the
    /// 11-byte tag header and the video tag's own header (1 byte, 5 for AVC). MPEG-TS's is the transport packet
    /// that starts it, and every 188-byte packet carries at most 184 bytes of it. Other containers' positions
    /// point at the data.
    private static func containerBytes(_ input: InputFormatContext, _ packet: Packet) -> Int64 {
        switch input.formatName {
        case "flv", "live_flv":
            let isAVC = input.codecName(ofStream: packet.streamIndex) == "h264"
            return 11 + (isAVC ? 5 : 1) + Int64(packet.size)
        case "mpegts":
            return (Int64(packet.size) + 183) / 184 * 188
        default:
            return Int64(packet.size)
        }
    }
}
