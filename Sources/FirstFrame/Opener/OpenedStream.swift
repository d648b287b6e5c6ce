import CFFmpeg

/// An input opened up to its first picture, still open: a player or recorder reads on from here. The packets
/// read while probing and buffering come first, in the order they were read, then the input's own.
///
/// Blocking, like every FFmpeg call: use it from one thread of your own at a time (not the cooperative pool).
public final class OpenedStream: @unchecked Sendable {
    public let report: FirstFrameReport
    public let input: InputFormatContext
    /// The first decoded picture.
    public let firstPicture: Frame
    /// The video decoder that produced it, open and primed (the player can keep decoding with it).
    public let videoDecoder: CodecContext
    public let videoStreamIndex: Int
    /// How many of the handed-on video packets (from the first keyframe) `videoDecoder` has already been fed:
    /// skip them if you keep decoding with it, feed them all to a decoder of your own.
    public let videoPacketsDecoded: Int
    private var queued: [Packet]

    init(report: FirstFrameReport, input: InputFormatContext, firstPicture: Frame, videoDecoder: CodecContext,
         videoStreamIndex: Int, videoPacketsDecoded: Int, queued: [Packet]) {
        self.videoPacketsDecoded = videoPacketsDecoded
        self.report = report
        self.input = input
        self.firstPicture = firstPicture
        self.videoDecoder = videoDecoder
        self.videoStreamIndex = videoStreamIndex
        self.queued = queued
    }

    /// Packets read during the open and not yet handed on.
    public var queuedPacketCount: Int { queued.count }

    /// The next packet: queued ones first, then `av_read_frame`. `nil` at the end of the stream.
    public func readPacket() throws(FFmpegError) -> Packet? {
        if !queued.isEmpty { return queued.removeFirst() }
        let packet = Packet()
        return try input.read(into: packet) ? packet : nil
    }
}
