import CFFmpeg
import FirstFrameCore
import FirstFrameFFmpeg

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Renders a channel's picture and tone and encodes them to FLV: once when the origin starts (the original
/// look), and once per further look the first time a named channel needs it.
///
/// The picture moves everywhere (scrolling diagonal stripes, a bouncing box, drifting chroma) so that the
/// encoder spends its bitrate evenly and decoders do real work on every frame; the tone has a short
/// higher pip at the start of every second, which makes A/V alignment audible. ``ChannelLook`` shifts
/// both per look.
enum MediaSynthesizer {
    static func synthesize(
        _ configuration: MediaConfiguration,
        look: ChannelLook = .original
    ) throws(OriginError) -> ChannelProgram {
        try configuration.validate()
        let bytes: [UInt8]
        let videoCodec: String
        do {
            (bytes, videoCodec) = try encode(configuration, look: look)
        } catch {
            throw .mediaSynthesis(error)
        }
        return try ChannelProgram(flv: bytes, configuration: configuration, look: look, videoCodec: videoCodec)
    }

    private static func encode(
        _ configuration: MediaConfiguration,
        look: ChannelLook
    ) throws(FFmpegError) -> ([UInt8], String) {
        let video = try makeVideoEncoder(configuration)
        let audio = configuration.audio ? try makeAudioEncoder(configuration) : nil

        let muxer = try MemoryOutputFormatContext(format: "flv")
        let videoStream = try muxer.addStream(from: video)
        let audioStream = try audio.map { encoder throws(FFmpegError) in try muxer.addStream(from: encoder) }
        // A live muxer cannot seek back to fill in duration and file size; don't pretend it can.
        try muxer.writeHeader(options: FFmpegOptions(["flvflags": "no_duration_filesize"]))

        var videoPackets = try encodeVideo(configuration, look: look, with: video)
        var audioPackets =
            try audio.map { encoder throws(FFmpegError) in try encodeAudio(configuration, look: look, with: encoder) }
            ?? []

        // Hand the muxer packets in presentation order across both streams.
        let videoBase = video.pointer.pointee.time_base
        let audioBase = audio?.pointer.pointee.time_base ?? AVRational(num: 1, den: 1)
        videoPackets.reverse()
        audioPackets.reverse()
        while !videoPackets.isEmpty || !audioPackets.isEmpty {
            let takeVideo: Bool
            if let nextVideo = videoPackets.last, let nextAudio = audioPackets.last {
                takeVideo = av_compare_ts(nextVideo.dts ?? 0, videoBase, nextAudio.dts ?? 0, audioBase) <= 0
            } else {
                takeVideo = !videoPackets.isEmpty
            }
            if takeVideo {
                try muxer.write(videoPackets.removeLast(), streamIndex: videoStream, timeBase: videoBase)
            } else if let audioStream {
                try muxer.write(audioPackets.removeLast(), streamIndex: audioStream, timeBase: audioBase)
            }
        }
        return (try muxer.finish(), video.codecName)
    }

    private static func makeVideoEncoder(_ configuration: MediaConfiguration) throws(FFmpegError) -> CodecContext {
        let useH264: Bool
        switch configuration.videoEncoder {
        case .automatic: useH264 = CodecContext.hasEncoder(named: "libx264")
        case .h264: useH264 = true
        case .sorensonH263: useH264 = false
        }
        let gop = configuration.gopFrames
        let options: FFmpegOptions
        if useH264 && configuration.bFrames > 0 {
            // x264's own way with B-frames (as most live encoders send them): a pyramid, adaptive placement,
            // lookahead; the loop is encoded ahead of time, so the encoder's delay costs nothing at serve time.
            options = FFmpegOptions([
                "preset": "veryfast",
                "x264-params":
                    "keyint=\(gop):min-keyint=\(gop):scenecut=0:open-gop=\(configuration.openGOP ? 1 : 0):nal-hrd=cbr"
                    + ":bframes=\(configuration.bFrames):b-pyramid=normal",
            ])
        } else if useH264 {
            // zerolatency: no B-frames, no lookahead, so pts == dts and every frame leaves the encoder at once.
            options = FFmpegOptions([
                "preset": "veryfast",
                "tune": "zerolatency",
                "x264-params": "keyint=\(gop):min-keyint=\(gop):scenecut=0:open-gop=0:nal-hrd=cbr",
            ])
        } else {
            options = FFmpegOptions(["sc_threshold": "1000000000"])
        }
        return try CodecContext.encoder(named: useH264 ? "libx264" : "flv", options: options) { context in
            context.pointee.width = Int32(configuration.width)
            context.pointee.height = Int32(configuration.height)
            context.pointee.pix_fmt = AV_PIX_FMT_YUV420P
            context.pointee.time_base = AVRational(num: 1, den: Int32(configuration.framesPerSecond))
            context.pointee.framerate = AVRational(num: Int32(configuration.framesPerSecond), den: 1)
            context.pointee.gop_size = Int32(gop)
            context.pointee.max_b_frames = Int32(useH264 ? configuration.bFrames : 0)
            // Constant-bitrate style: a VBV of half a second keeps bytes per second even, which is what
            // makes real-time pacing measurable.
            context.pointee.bit_rate = Int64(configuration.videoBitrate)
            context.pointee.rc_max_rate = Int64(configuration.videoBitrate)
            context.pointee.rc_buffer_size = Int32(configuration.videoBitrate / 2)
            context.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
    }

    private static func makeAudioEncoder(_ configuration: MediaConfiguration) throws(FFmpegError) -> CodecContext {
        try CodecContext.encoder(named: "aac") { context in
            context.pointee.sample_fmt = AV_SAMPLE_FMT_FLTP
            context.pointee.sample_rate = Int32(configuration.audioSampleRate)
            av_channel_layout_default(&context.pointee.ch_layout, 1)
            context.pointee.bit_rate = Int64(configuration.audioBitrate)
            context.pointee.time_base = AVRational(num: 1, den: Int32(configuration.audioSampleRate))
            context.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
    }

    private static func encodeVideo(
        _ configuration: MediaConfiguration,
        look: ChannelLook,
        with encoder: CodecContext
    ) throws(FFmpegError) -> [Packet] {
        let frame = Frame()
        try frame.allocatePicture(format: AV_PIX_FMT_YUV420P, width: configuration.width, height: configuration.height)
        var packets: [Packet] = []
        for index in 0..<configuration.loopFrames {
            try frame.makeWritable()
            paint(frame, index: index, configuration: configuration, look: look)
            frame.pointer.pointee.pts = Int64(index)
            try encoder.send(frame)
            try collect(from: encoder, into: &packets)
        }
        try encoder.send(nil as Frame?)
        try collect(from: encoder, into: &packets)
        return packets
    }

    private static func encodeAudio(
        _ configuration: MediaConfiguration,
        look: ChannelLook,
        with encoder: CodecContext
    ) throws(FFmpegError) -> [Packet] {
        let samplesPerFrame = Int(encoder.pointer.pointee.frame_size)
        let rate = configuration.audioSampleRate
        // One frame more than the loop needs; the channel trims what falls past the loop's end.
        let totalSamples = configuration.loopFrames * rate / configuration.framesPerSecond + samplesPerFrame
        let frame = Frame()
        var packets: [Packet] = []
        var sample = 0
        let tone = look.toneHertz
        while sample < totalSamples {
            try frame.allocateSamples(format: AV_SAMPLE_FMT_FLTP, sampleRate: rate, channels: 1, count: samplesPerFrame)
            let output = UnsafeMutableRawPointer(frame.pointer.pointee.data.0!).assumingMemoryBound(to: Float.self)
            for offset in 0..<samplesPerFrame {
                let position = sample + offset
                let secondPhase = position % rate
                // The look's tone (440 Hz for the original); twice that for the first 100 ms of every second.
                let frequency = secondPhase < rate / 10 ? 2 * tone : tone
                output[offset] = Float(0.25 * sin(2 * Double.pi * frequency * Double(position) / Double(rate)))
            }
            frame.pointer.pointee.pts = Int64(sample)
            try encoder.send(frame)
            frame.unref()
            try collect(from: encoder, into: &packets)
            sample += samplesPerFrame
        }
        try encoder.send(nil as Frame?)
        try collect(from: encoder, into: &packets)
        return packets
    }

    private static func collect(from encoder: CodecContext, into packets: inout [Packet]) throws(FFmpegError) {
        while true {
            let packet = Packet()
            guard try encoder.receive(into: packet) else { return }
            packets.append(packet)
        }
    }

    /// Paints frame `index` with `memset` runs only, so that synthesis stays fast in debug builds too. Every
    /// offset of the original look is zero, so it paints what the origin always painted.
    private static func paint(_ frame: Frame, index: Int, configuration: MediaConfiguration, look: ChannelLook) {
        let width = configuration.width
        let height = configuration.height
        let picture = frame.pointer.pointee
        let luma = picture.data.0!
        let lumaStride = Int(picture.linesize.0)
        let stripe = 32
        let levels: [Int32] = [40, 110, 180]
        let box = min(64, width, height)
        let boxX = triangle((index + look.boxOffset) * 7, span: width - box)
        let boxY = triangle((index + look.boxOffset) * 5, span: height - box)
        for row in 0..<height {
            let line = luma + row * lumaStride
            let shift = (index * 6 + row / 2 + look.stripeOffset) % (stripe * levels.count)
            var x = -shift
            var segment = 0
            while x < width {
                let start = max(0, x)
                let end = min(width, x + stripe)
                if end > start {
                    memset(line + start, levels[(segment + look.levelRotation) % levels.count], end - start)
                }
                x += stripe
                segment += 1
            }
            if row >= boxY && row < boxY + box { memset(line + boxX, 235, box) }
        }
        let phase = Double(index) / Double(configuration.framesPerSecond)
        let chromaWidth = width / 2
        for (plane, stride, offset) in [
            (picture.data.1!, Int(picture.linesize.1), 0.0), (picture.data.2!, Int(picture.linesize.2), 2.0),
        ] {
            let left = Int32(128 + 50 * sin(phase + look.hue + offset))
            let right = Int32(128 + 50 * cos(phase * 1.7 + look.hue + offset))
            for row in 0..<(height / 2) {
                let line = plane + row * stride
                memset(line, left, chromaWidth / 2)
                memset(line + chromaWidth / 2, right, chromaWidth - chromaWidth / 2)
            }
        }
    }

    /// A value that runs 0 → span → 0 as `position` grows.
    private static func triangle(_ position: Int, span: Int) -> Int {
        guard span > 0 else { return 0 }
        let period = 2 * span
        let phase = position % period
        return phase <= span ? phase : period - phase
    }
}
