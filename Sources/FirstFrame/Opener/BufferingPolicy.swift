import FirstFrameFFmpeg

/// When the open has buffered enough to decode: ijkplayer's thresholds (`minVideoFrames` video packets from the
/// first keyframe and `minAudioFrames` audio packets, or `firstHighWaterMarkMs` of video queued), checked as
/// ijkplayer does: on a packet's arrival, at most every `bufferCheckIntervalMs`.
struct BufferingPolicy {
    var minVideoFrames: Int
    var minAudioFrames: Int
    /// Milliseconds of video (from the keyframe, in the video's time base) that are enough on their own; 0: off.
    var firstHighWaterMarkMs: Int
    /// How often the thresholds are checked, in milliseconds; 0: on every packet.
    var checkIntervalMs: Int

    init(knobs: TuningKnobs) {
        minVideoFrames = knobs.minVideoFrames
        minAudioFrames = knobs.minAudioFrames
        firstHighWaterMarkMs = knobs.firstHighWaterMarkMs
        checkIntervalMs = knobs.bufferCheckIntervalMs
    }

    /// Queues packets until the thresholds are met.
    func buffer(_ input: InputFormatContext, video: Int, queue: inout PacketQueue) throws {
        var lastCheck: UInt64?
        while true {
            let now = MonotonicClock.nanoseconds()
            if checkIntervalMs == 0 || lastCheck == nil || now - lastCheck! >= UInt64(checkIntervalMs) * 1_000_000 {
                lastCheck = now
                if thresholdsMet(queue, video: video, timeBase: input.timeBase(ofStream: video)) { return }
            }
            do {
                try queue.read(from: input)
            } catch let failure as PipelineFailure where failure.kind == .endOfStream && queue.firstKeyframeIndex != nil
            {
                // The input ended with a keyframe queued (a short file, a live edge that closed): a player plays
                // what it has, as ijkplayer does at the end of its input.
                return
            }
        }
    }

    /// Whether `queue` meets the thresholds for video stream `video`, whose timestamps are in `timeBase`.
    func thresholdsMet(_ queue: PacketQueue, video: Int, timeBase: Rational) -> Bool {
        let fromKeyframe = queue.firstKeyframeIndex.map { queue.packets[$0...] } ?? []
        let videoPackets = fromKeyframe.lazy.filter { $0.streamIndex == video }
        let audioPackets = queue.packets.lazy.filter { $0.mediaKind == .audio }
        let framesMet = videoPackets.count >= minVideoFrames && audioPackets.count >= minAudioFrames
        guard !framesMet, firstHighWaterMarkMs > 0 else { return framesMet }
        // ijkplayer's first high-water mark: enough media queued, counted in the video's time base.
        let timestamps = videoPackets.compactMap { $0.pts ?? $0.dts }
        guard let first = timestamps.min(), let last = timestamps.max() else { return false }
        let queuedMs = Double(last - first) * Double(timeBase.numerator) / Double(timeBase.denominator) * 1000
        return queuedMs >= Double(firstHighWaterMarkMs)
    }
}
