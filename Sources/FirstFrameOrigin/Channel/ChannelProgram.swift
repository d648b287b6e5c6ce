import Synchronization

/// One pass of a channel's media, split into FLV tags: what every client of the channel is served,
/// restamped for each pass of the loop.
package struct ChannelProgram: Sendable {
    package let configuration: MediaConfiguration
    /// The picture and tone it was synthesised with.
    package let look: ChannelLook
    /// The GOP of the synthesised loop this program starts at (0 unless ``startingAt(gop:)`` rotated it).
    package let firstGOP: Int
    /// How many tags of the synthesised loop ``startingAt(gop:)`` moved from the front to the end of ``media``.
    package let rotation: Int
    /// FFmpeg's name for the video codec (`h264`, or `flv1` without libx264).
    package let videoCodec: String
    package let header: FLVHeader
    /// The `onMetaData` script tag (width, height, framerate, codec ids).
    package let metadata: FLVTag?
    /// AVC and AAC decoder configuration, sent before any frame.
    package let sequenceHeaders: [FLVTag]
    /// Audio and video frames of one pass, timestamps in `0..<loopMilliseconds`, video starting on a keyframe.
    package let media: [FLVTag]
    package let loopMilliseconds: UInt32

    init(
        flv bytes: [UInt8],
        configuration: MediaConfiguration,
        look: ChannelLook,
        videoCodec: String
    ) throws(OriginError) {
        var parser = FLVStreamParser()
        let tags: [FLVTag]
        do {
            tags = try parser.append(bytes)
        } catch {
            throw .malformedMedia("muxer output does not parse: \(error)")
        }
        guard let header = parser.header else { throw .malformedMedia("no FLV header") }
        self.configuration = configuration
        self.look = look
        self.firstGOP = 0
        self.rotation = 0
        self.videoCodec = videoCodec
        self.header = header
        self.metadata = tags.first { $0.kind == .script }
        self.sequenceHeaders = tags.filter(\.isSequenceHeader)
        self.loopMilliseconds = configuration.loopMilliseconds
        // The audio encoder runs a frame past the loop's end; what falls past it is trimmed so that the
        // next pass starts cleanly on its keyframe.
        let loopEnd = configuration.loopMilliseconds
        self.media = tags.filter { $0.isMedia && $0.timestamp < loopEnd }
        guard let firstVideo = media.first(where: { $0.kind == .video }), firstVideo.isKeyframe else {
            throw .malformedMedia("the loop does not start with a video keyframe")
        }
        let keyframes = media.filter(\.isKeyframe).count
        let expected = configuration.loopFrames / configuration.gopFrames
        guard keyframes == expected else {
            throw .malformedMedia("\(keyframes) keyframes in the loop, expected \(expected)")
        }
    }

    private init(rotating program: ChannelProgram, gop: Int, rotation: Int, media: [FLVTag]) {
        configuration = program.configuration
        look = program.look
        firstGOP = gop
        self.rotation = rotation
        videoCodec = program.videoCodec
        header = program.header
        metadata = program.metadata
        sequenceHeaders = program.sequenceHeaders
        loopMilliseconds = program.loopMilliseconds
        self.media = media
    }

    /// Keyframes (GOPs) in one pass.
    package var gopsPerLoop: Int { configuration.loopFrames / configuration.gopFrames }

    /// The same loop started at its `gop`-th keyframe (modulo the GOPs in a pass), timestamps rebased so that
    /// the pass still runs `0..<loopMilliseconds`: channels that share a synthesised program but start at
    /// different GOPs send different frames at any moment, at no encoding cost. Payloads are shared, not copied.
    package func startingAt(gop: Int) -> ChannelProgram {
        guard firstGOP == 0 else { return self }
        let keyframes = media.filter(\.isKeyframe)
        let index = gop % max(1, keyframes.count)
        // Cut at the keyframe's time: what is due from there comes first, what came before moves to the end of
        // the pass, in the same order. A pass is in timestamp order, so this is a rotation of the array, and
        // timestamps still never run backwards within a pass.
        guard index > 0, let split = media.firstIndex(where: { $0.timestamp >= keyframes[index].timestamp }) else {
            return self
        }
        let cut = media[split].timestamp
        let later = media[split...].map { FLVTag(kind: $0.kind, timestamp: $0.timestamp - cut, payload: $0.payload) }
        let earlier = media[..<split].map {
            FLVTag(kind: $0.kind, timestamp: $0.timestamp + loopMilliseconds - cut, payload: $0.payload)
        }
        return ChannelProgram(rotating: self, gop: index, rotation: split, media: later + earlier)
    }

    /// Bytes of media tags on the wire in one pass.
    package var mediaBytesPerLoop: Int { media.reduce(0) { $0 + $1.encodedSize } }

    /// Average bits per second of media tags on the wire (what a real-time client receives).
    package var bitsPerSecond: Double {
        Double(mediaBytesPerLoop * 8) / (Double(loopMilliseconds) / 1000)
    }

    /// Media tag bytes whose loop-relative timestamps fall in `[start, end)` (milliseconds, any number of
    /// passes): what a client paced in real time should receive over that span.
    package func mediaBytes(from start: UInt64, to end: UInt64) -> Int {
        guard end > start else { return 0 }
        let loop = UInt64(loopMilliseconds)
        var total = 0
        var pass = start / loop
        while pass * loop < end {
            for tag in media {
                let time = pass * loop + UInt64(tag.timestamp)
                if time >= start && time < end { total += tag.encodedSize }
            }
            pass += 1
        }
        return total
    }

    /// Synthesises (or returns the already synthesised) program for `configuration` in `look`. Encoding the
    /// default channel costs about 0.6 s of wall time and 0.9 s of CPU (x264 uses both cores) on the two-core
    /// dev machine; tests and benchmarks start many origins, so results are kept for the life of the process.
    package static func synthesized(
        _ configuration: MediaConfiguration,
        look: ChannelLook = .original
    ) throws(OriginError) -> ChannelProgram {
        let key = CacheKey(configuration: configuration, look: look)
        if let cached = cache.withLock({ $0[key] }) { return cached }
        let program = try MediaSynthesizer.synthesize(configuration, look: look)
        cache.withLock { $0[key] = program }
        syntheses.withLock { $0[configuration, default: 0] += 1 }
        return program
    }

    /// How many programs (of any look) have been encoded for `configuration` in this process: lets tests see
    /// that concurrent first requests for channels synthesise once.
    package static func synthesisCount(for configuration: MediaConfiguration) -> Int {
        syntheses.withLock { $0[configuration] ?? 0 }
    }

    private static let syntheses = Mutex<[MediaConfiguration: Int]>([:])

    private struct CacheKey: Hashable {
        let configuration: MediaConfiguration
        let look: ChannelLook
    }

    private static let cache = Mutex<[CacheKey: ChannelProgram]>([:])
}
