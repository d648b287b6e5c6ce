/// Named knob sets: where other players start, and ours.
public enum Preset: String, Sendable, Codable, CaseIterable {
    /// Stock FFmpeg: no options at all, what ffplay-like code gets. `find_stream_info` waits for 20 frames (40
    /// on FLV) to estimate the frame rate; the decoder picks its own thread count.
    case ffmpeg
    /// ijkplayer's defaults (ff_ffplay_def.h): stock probing, buffering until 2 frames or 100 ms of media are
    /// queued, checked every 50 ms before the first frame.
    case ijkplayer
    /// The first-screen field report's tuned set: `fpsprobesize` 0, buffering checked every 50 ms, 5 frames.
    case fieldReport
    /// FirstFrame's: the fastest setting that still never drops a stream. No format probe for `.flv` URLs,
    /// stream parameters from the container's headers, the first keyframe ends buffering and is decoded alone (no
    /// B-frame reorder delay), one decoder thread, IPv4-only lookups, and no Nagle or delayed-ACK waits in RTMP's
    /// command exchange (`tcp_nodelay`, `quickAck`), two spare connections for an open's later connects to the same
    /// edge, connects and lookups hedged after 300 ms; on HLS, no parallel fetch of the next segment
    /// (`http_multiple` 0) and no codec probe holding the first keyframe back (`hlsSegmentProbesize` 4096).
    case instant

    public var knobs: TuningKnobs {
        var knobs = TuningKnobs()
        switch self {
        case .ffmpeg:
            break
        case .ijkplayer:
            knobs.minVideoFrames = 2
            knobs.minAudioFrames = 2
            knobs.bufferCheckIntervalMs = 50
            knobs.firstHighWaterMarkMs = 100
        case .fieldReport:
            knobs.fpsprobesize = 0
            knobs.minVideoFrames = 5
            knobs.minAudioFrames = 5
            knobs.bufferCheckIntervalMs = 50
        case .instant:
            knobs.fpsprobesize = 0
            knobs.format = "auto"
            knobs.skipStreamInfo = true
            knobs.minVideoFrames = 1
            knobs.minAudioFrames = 0
            knobs.bufferCheckIntervalMs = 0
            knobs.decoderThreads = 1
            knobs.decodeKeyframeAlone = true
            knobs.ipv4Only = true
            knobs.tcpNoDelay = true
            knobs.quickAck = true
            // Round trips and loss tails taken away underneath FFmpeg (issue 23; measured on the network rig, see
            // the CHANGELOG): two spares cover an HLS open's two segment connects after its playlist's; a connect
            // or lookup unanswered after 300 ms (2 round trips at 150 ms, 5 at 60 ms) has most likely lost a packet,
            // which the kernel would retry only after 1 s (SYN) and libresolv after 2–5 s (DNS).
            knobs.spareConnections = 2
            knobs.connectHedgeMs = 300
            knobs.lookupHedgeMs = 300
            knobs.httpMultiple = 0
            knobs.hlsSegmentProbesize = 4096
        }
        return knobs
    }

    public init(named name: String) throws(KnobError) {
        guard let preset = Preset(rawValue: name) else { throw .unknownPreset(name) }
        self = preset
    }
}
