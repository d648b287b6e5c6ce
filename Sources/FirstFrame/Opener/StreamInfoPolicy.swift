import FirstFrameFFmpeg

/// Stream information without `avformat_find_stream_info` (`skipStreamInfo` on FLV).
///
/// FLV announces its streams in the header's flags but creates them only when their tags arrive. The open reads
/// until every announced stream exists with its parameters (the sequence headers carry them), never going on
/// without one. Announced video is waited for as long as the open may last: an edge that holds video back
/// until its next keyframe (nginx-rtmp does, sending audio at once) makes it as late as a GOP. Announced audio
/// that is late is waited for `streamWaitMs` after the video is known, and then handed on whenever it comes
/// (it is not dropped; the player sees it appear).
package struct StreamInfoPolicy {
    /// What the FLV header announces; nil when no header was found (both are then waited for).
    package let announced: FLVHeaderSniffer.Streams?
    /// How long announced audio is waited for once the video is known, in nanoseconds.
    package let streamWait: UInt64
    /// When the video was first known.
    package private(set) var videoKnownAt: UInt64?

    package init(announced: FLVHeaderSniffer.Streams?, streamWaitMs: Int) {
        self.announced = announced
        self.streamWait = UInt64(streamWaitMs) * 1_000_000
    }

    /// Whether the streams known now are enough to go on: every announced stream known, or the video known for
    /// `streamWaitMs` while the audio is still missing. `now` is read only once the video is known.
    package mutating func isSatisfied(videoKnown: Bool, audioKnown: Bool, now: @autoclosure () -> UInt64) -> Bool {
        let wantVideo = announced?.video ?? true
        let wantAudio = announced?.audio ?? true
        if (!wantVideo || videoKnown) && (!wantAudio || audioKnown) { return true }
        guard videoKnown else { return false }
        let now = now()
        videoKnownAt = videoKnownAt ?? now
        return now - videoKnownAt! >= streamWait
    }

    /// Reads onto `queue` until ``isSatisfied(videoKnown:audioKnown:now:)``.
    mutating func readUntilStreamsKnown(
        _ input: InputFormatContext,
        queue: inout PacketQueue,
        limits: OpenLimits
    ) throws {
        while true {
            let videoKnown = Self.streamKnown(input, .video, queue: queue.packets)
            let audioKnown = Self.streamKnown(input, .audio, queue: queue.packets)
            if isSatisfied(videoKnown: videoKnown, audioKnown: audioKnown, now: MonotonicClock.nanoseconds()) {
                return
            }
            do {
                try queue.read(from: input)
            } catch  where audioKnown && !videoKnown && limits.deadlinePassedUncancelled {
                // The deadline came with audio flowing and the announced video still missing: say so.
                throw PipelineFailure(
                    stage: .streamInfo,
                    kind: .noVideo,
                    message: "the header announces video but only audio came before the deadline"
                )
            }
        }
    }

    /// Whether `input` has a stream of `kind` with its codec and its parameters: its codec configuration, or for
    /// a codec without one a packet of it queued (for video, a keyframe).
    static func streamKnown(_ input: InputFormatContext, _ kind: StreamInfo.Kind, queue: [Packet]) -> Bool {
        for index in 0..<input.streamCount {
            guard input.kind(ofStream: index) == kind, input.hasCodec(ofStream: index) else { continue }
            if input.extradataSize(ofStream: index) > 0 { return true }
            if queue.contains(where: { $0.streamIndex == index && (kind != .video || $0.isKeyframe) }) {
                return true
            }
        }
        return false
    }
}
