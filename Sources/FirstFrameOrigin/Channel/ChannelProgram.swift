import Synchronization

/// One pass of the channel's media, split into FLV tags: what every client of the origin is served,
/// restamped for each pass of the loop.
package struct ChannelProgram: Sendable {
    package let configuration: MediaConfiguration
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

    init(flv bytes: [UInt8], configuration: MediaConfiguration, videoCodec: String) throws(OriginError) {
        var parser = FLVStreamParser()
        let tags: [FLVTag]
        do {
            tags = try parser.append(bytes)
        } catch {
            throw .malformedMedia("muxer output does not parse: \(error)")
        }
        guard let header = parser.header else { throw .malformedMedia("no FLV header") }
        self.configuration = configuration
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

    /// Synthesises (or returns the already synthesised) program for `configuration`. Encoding takes about
    /// a second for the default channel; tests and benchmarks start many origins, so results are kept.
    package static func synthesized(_ configuration: MediaConfiguration) throws(OriginError) -> ChannelProgram {
        if let cached = cache.withLock({ $0[configuration] }) { return cached }
        let program = try MediaSynthesizer.synthesize(configuration)
        cache.withLock { $0[configuration] = program }
        return program
    }

    private static let cache = Mutex<[MediaConfiguration: ChannelProgram]>([:])
}
