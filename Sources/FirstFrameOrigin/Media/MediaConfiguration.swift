/// What the origin's synthetic channel looks like.
public struct MediaConfiguration: Sendable, Hashable, Codable {
    public var width: Int
    public var height: Int
    public var framesPerSecond: Int
    /// Seconds between keyframes. The loop is a whole number of GOPs, so keyframes stay regular across loops.
    public var gopSeconds: Double
    /// Seconds of media synthesised once and played in a loop with ever-increasing timestamps.
    public var loopSeconds: Double
    public var audio: Bool
    /// Target video bitrate (constant-bitrate style rate control), bits per second.
    public var videoBitrate: Int
    public var audioBitrate: Int
    public var audioSampleRate: Int
    /// `libx264` when this FFmpeg has it, else FFmpeg's own `flv` (Sorenson H.263) encoder.
    public var videoEncoder: VideoEncoder
    /// B-frames between references (H.264 only). 0, the origin's default, sends every frame in decode order as
    /// soon as it is encoded; most live encoders (x264's defaults, OBS, hardware) send B-frames, which make a
    /// decoder hold pictures back for reordering (x264's pyramid of 3: two pictures).
    public var bFrames: Int
    /// Open GOPs (H.264 only, with B-frames): B-frames after a keyframe may refer to the GOP before it.
    public var openGOP: Bool

    /// Which encoder synthesises the video.
    public enum VideoEncoder: String, Sendable, Hashable, Codable {
        /// Use libx264 when present, else Sorenson H.263.
        case automatic
        case h264
        /// FFmpeg's built-in `flv` encoder (Sorenson H.263). FLV cannot carry MPEG-4 part 2, so this is the
        /// fallback that needs no external encoder.
        case sorensonH263
    }

    public init(
        width: Int = 640,
        height: Int = 360,
        framesPerSecond: Int = 25,
        gopSeconds: Double = 2,
        loopSeconds: Double = 10,
        audio: Bool = true,
        videoBitrate: Int = 800_000,
        audioBitrate: Int = 64_000,
        audioSampleRate: Int = 44_100,
        videoEncoder: VideoEncoder = .automatic,
        bFrames: Int = 0,
        openGOP: Bool = false
    ) {
        self.width = width
        self.height = height
        self.framesPerSecond = framesPerSecond
        self.gopSeconds = gopSeconds
        self.loopSeconds = loopSeconds
        self.audio = audio
        self.videoBitrate = videoBitrate
        self.audioBitrate = audioBitrate
        self.audioSampleRate = audioSampleRate
        self.videoEncoder = videoEncoder
        self.bFrames = bFrames
        self.openGOP = openGOP
    }

    /// Frames between keyframes.
    public var gopFrames: Int { max(1, Int((gopSeconds * Double(framesPerSecond)).rounded())) }

    /// Frames in one pass of the loop: at least one GOP, rounded up to whole GOPs.
    public var loopFrames: Int {
        let requested = max(1, Int((loopSeconds * Double(framesPerSecond)).rounded()))
        return (requested + gopFrames - 1) / gopFrames * gopFrames
    }

    /// Milliseconds in one pass of the loop.
    public var loopMilliseconds: UInt32 { UInt32(loopFrames * 1000 / framesPerSecond) }

    /// Checks the values an encoder would reject, with a message that names the field.
    public func validate() throws(OriginError) {
        func fail(_ message: String) -> OriginError { .invalidConfiguration(message) }
        guard width >= 16, height >= 16, width % 2 == 0, height % 2 == 0, width <= 4096, height <= 4096 else {
            throw fail("size \(width)x\(height): width and height must be even, 16…4096")
        }
        guard (1...120).contains(framesPerSecond) else { throw fail("fps \(framesPerSecond): must be 1…120") }
        guard gopSeconds > 0, gopSeconds <= 60 else { throw fail("gop \(gopSeconds) s: must be > 0 and ≤ 60") }
        guard loopSeconds > 0, loopSeconds <= 600 else { throw fail("loop \(loopSeconds) s: must be > 0 and ≤ 600") }
        guard videoBitrate >= 50_000 else { throw fail("video bitrate \(videoBitrate): must be ≥ 50 kbit/s") }
        guard (0...16).contains(bFrames) else { throw fail("b-frames \(bFrames): must be 0…16") }
        guard [22_050, 44_100, 48_000].contains(audioSampleRate) else {
            throw fail("audio rate \(audioSampleRate): 22050, 44100 or 48000")
        }
    }
}
