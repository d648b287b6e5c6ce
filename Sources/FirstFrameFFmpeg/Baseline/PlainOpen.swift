import CFFmpeg
import FirstFrameCore

/// Opens a URL with stock FFmpeg calls and nothing else (no DNS cache, no tuned knobs, no hooks) and
/// times each call up to the first decoded picture.
///
/// This is the baseline every FirstFrame figure is compared with, measured in the same run; it is also
/// what the demo shows before the opener exists. Blocking: call it from a `DedicatedThread`.
public enum PlainOpen {
    /// The milestones a plain open can see from outside FFmpeg's calls, in order.
    public enum Milestone: String, Sendable, Codable, CodingKeyRepresentable, CaseIterable {
        /// `avformat_open_input` returned: connected, response read, format probed.
        case formatProbed
        /// `avformat_find_stream_info` returned.
        case streamInfoFound
        /// The first video packet flagged as a keyframe was read.
        case firstKeyframe
        /// The decoder returned its first picture.
        case firstVideoFrame
    }

    /// What an open reached, and when (milliseconds since the open was asked for, on `MonotonicClock`).
    public struct Result: Sendable, Codable {
        public var url: String
        public var milestones: [Milestone: Double] = [:]
        public var streams: [StreamInfo] = []
        public var formatName: String?
        /// Size of the first decoded picture.
        public var pictureWidth: Int?
        public var pictureHeight: Int?
        /// Bytes read from the input when the first picture came out.
        public var bytesRead: Int64 = 0
        /// The milestone that was being worked towards when FFmpeg failed, and its error.
        public var failedStage: Milestone?
        public var error: FFmpegError?

        public init(url: String) {
            self.url = url
        }

        public var succeeded: Bool { error == nil && milestones[.firstVideoFrame] != nil }
    }

    /// - Parameters:
    ///   - options: format options for `avformat_open_input` (none by default: stock behaviour).
    ///   - timeout: seconds before the interrupt callback stops FFmpeg.
    ///   - decoderThreads: threads for the video decoder (1 avoids frame threading's start-up delay).
    public static func run(
        url: String,
        options: FFmpegOptions? = nil,
        timeout: Double = 15,
        decoderThreads: Int = 1
    ) -> Result {
        var result = Result(url: url)
        let start = MonotonicClock.nanoseconds()
        var stage = Milestone.formatProbed
        do {
            let input = try InputFormatContext(
                url: url,
                options: options,
                interrupter: Interrupter(timeout: .seconds(timeout))
            )
            result.milestones[.formatProbed] = MonotonicClock.milliseconds(since: start)
            result.formatName = input.formatName

            stage = .streamInfoFound
            try input.findStreamInfo()
            result.milestones[.streamInfoFound] = MonotonicClock.milliseconds(since: start)
            result.streams = input.streams

            stage = .firstKeyframe
            guard let videoIndex = input.bestStream(.video) else {
                throw FFmpegError(code: .streamNotFound, operation: "av_find_best_stream(video)")
            }
            let decoder = try CodecContext.decoder(for: input, streamIndex: videoIndex, threads: decoderThreads)
            let packet = Packet()
            let frame = Frame()
            var sawKeyframe = false
            while true {
                guard try input.read(into: packet) else {
                    throw FFmpegError(code: .endOfFile, operation: "av_read_frame before the first picture")
                }
                guard packet.streamIndex == videoIndex else { continue }
                if !sawKeyframe {
                    // Inter frames before the first keyframe decode to concealment garbage; skip them.
                    guard packet.isKeyframe else { continue }
                    sawKeyframe = true
                    result.milestones[.firstKeyframe] = MonotonicClock.milliseconds(since: start)
                    stage = .firstVideoFrame
                }
                try decoder.send(packet)
                if try decoder.receive(into: frame) {
                    result.milestones[.firstVideoFrame] = MonotonicClock.milliseconds(since: start)
                    result.pictureWidth = frame.width
                    result.pictureHeight = frame.height
                    result.bytesRead = input.bytesRead
                    return result
                }
            }
        } catch {
            result.failedStage = stage
            result.error = error as? FFmpegError
        }
        return result
    }
}
