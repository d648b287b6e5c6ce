import CFFmpeg
import FirstFrameCore

/// An opened input (`avformat_open_input`), owned: closed with the object.
///
/// Every call blocks; run them on a thread of their own (`DedicatedThread`), never on Swift's
/// cooperative pool.
public final class InputFormatContext {
    package let pointer: UnsafeMutablePointer<AVFormatContext>
    /// The interrupt callback's state; cancel it from any thread to stop a blocking call.
    public let interrupter: Interrupter
    /// FFmpeg's lines about the last packet read, which the input cut short (flagged corrupt), held until the
    /// next read tells whether the input went on (see ``FFmpegLog``).
    private var linesAboutCutPacket: [FFmpegLogLine] = []

    /// Opens `url` (`avformat_open_input`): connects, reads the response and probes the format.
    ///
    /// - Parameters:
    ///   - options: format and protocol options (`fpsprobesize`, `timeout`, …); FFmpeg removes what it consumed.
    ///   - interrupter: deadline and cancel switch polled by FFmpeg while it blocks.
    ///   - format: a demuxer name (`flv`, `hls`, …) to skip the format probe; nil probes.
    public init(
        url: String,
        options: FFmpegOptions? = nil,
        interrupter: Interrupter = Interrupter(),
        format: String? = nil
    ) throws(FFmpegError) {
        guard let allocated = avformat_alloc_context() else {
            throw FFmpegError(code: .system(ENOMEM), operation: "avformat_alloc_context")
        }
        self.interrupter = interrupter
        allocated.pointee.interrupt_callback = InterruptCallback.make(for: interrupter)
        var context: UnsafeMutablePointer<AVFormatContext>? = allocated
        // On failure avformat_open_input frees the context and sets it to NULL.
        var inputFormat: UnsafePointer<AVInputFormat>?
        if let format {
            guard let found = av_find_input_format(format) else {
                avformat_free_context(allocated)
                throw FFmpegError(code: .demuxerNotFound, operation: "av_find_input_format(\(format))")
            }
            inputFormat = found
        }
        let result: Int32
        if let options {
            result = avformat_open_input(&context, url, inputFormat, &options.pointer)
        } else {
            result = avformat_open_input(&context, url, inputFormat, nil)
        }
        try FFmpegError.check(result, "avformat_open_input")
        pointer = context!
    }

    deinit {
        // The input ended (or was closed) right after a cut packet: no read returned anything after it.
        for line in linesAboutCutPacket { line.write(demoted: true) }
        var context: UnsafeMutablePointer<AVFormatContext>? = pointer
        avformat_close_input(&context)
    }

    /// Reads packets until every stream has its parameters (`avformat_find_stream_info`).
    public func findStreamInfo() throws(FFmpegError) {
        try FFmpegError.check(avformat_find_stream_info(pointer, nil), "avformat_find_stream_info")
    }

    /// The demuxer's short name (`flv`, `mpegts`, …).
    public var formatName: String { String(cString: pointer.pointee.iformat.pointee.name) }

    /// The index of the best stream of `kind` (FFmpeg's `av_find_best_stream`: the one a player would pick).
    public func bestStream(_ kind: StreamInfo.Kind) -> Int? {
        switch kind {
        case .video: bestStream(AVMEDIA_TYPE_VIDEO)
        case .audio: bestStream(AVMEDIA_TYPE_AUDIO)
        case .subtitle: bestStream(AVMEDIA_TYPE_SUBTITLE)
        case .data: bestStream(AVMEDIA_TYPE_DATA)
        case .other: nil
        }
    }

    /// What the demuxer knows of each stream so far, as values (codec, size, sample rate, frame rate, time base).
    public var streams: [StreamInfo] {
        (0..<Int(pointer.pointee.nb_streams)).map { StreamInfo(pointer.pointee.streams[$0]!) }
    }

    /// The first `count` bytes of the input (of an HTTP body: after the response head), if FFmpeg's I/O buffer
    /// still holds them: what a check of the container's signature reads when the trace did not keep them (a
    /// response head longer than its capture). Nil once the buffer has moved past them.
    package func leadingBytes(_ count: Int) -> [UInt8]? {
        guard let io = pointer.pointee.pb, let buffer = io.pointee.buffer, let end = io.pointee.buf_end else {
            return nil
        }
        let held = buffer.distance(to: end)
        // The buffer holds the input's bytes [pos − held, pos): from the start only while pos == held.
        guard io.pointee.pos == Int64(held), held >= count else { return nil }
        return Array(UnsafeBufferPointer(start: buffer, count: count))
    }

    /// How many streams the demuxer has made so far (FLV adds streams as their first tags come).
    public var streamCount: Int { Int(pointer.pointee.nb_streams) }

    /// The `AVStream` at `index`, for codec parameters.
    package func stream(at index: Int) -> UnsafeMutablePointer<AVStream> {
        precondition(index >= 0 && index < Int(pointer.pointee.nb_streams), "stream index out of range")
        return pointer.pointee.streams[index]!
    }

    /// The best stream of `type` (`av_find_best_stream`), if any.
    package func bestStream(_ type: AVMediaType) -> Int? {
        let index = av_find_best_stream(pointer, type, -1, -1, nil, 0)
        return index < 0 ? nil : Int(index)
    }

    /// Reads the next packet into `packet`; `false` at the end of the input.
    ///
    /// FFmpeg's lines about a packet the input cut short are held until the next read (or the input's close):
    /// at their own level if the input went on, at `debug` if it ended there (``FFmpegLog``).
    public func read(into packet: Packet) throws(FFmpegError) -> Bool {
        packet.unref()
        let previous = FFmpegLogRouter.beginReadCapture()
        let result = av_read_frame(pointer, packet.pointer)
        let captured = FFmpegLogRouter.endReadCapture(restoring: previous)
        // The lines about the last packet, cut short: real media if the input went on after it, else the input's
        // end inside a packet nobody will see (debug).
        let wentOn = result >= 0
        let earlier = linesAboutCutPacket
        linesAboutCutPacket = []
        for line in earlier { line.write(demoted: !wentOn) }
        if wentOn, packet.pointer.pointee.flags & AV_PKT_FLAG_CORRUPT != 0 {
            linesAboutCutPacket = captured
        } else {
            for line in captured { line.write(demoted: !wentOn) }
        }
        if result == CFFMPEG_AVERROR_EOF { return false }
        try FFmpegError.check(result, "av_read_frame")
        let stream = stream(at: packet.streamIndex)
        packet.timeBase = Rational(stream.pointee.time_base)
        packet.mediaKind = StreamInfo.Kind(stream.pointee.codecpar.pointee.codec_type)
        return true
    }

    /// Bytes read from the input so far (`avio_tell` on the I/O context).
    public var bytesRead: Int64 {
        guard let io = pointer.pointee.pb else { return 0 }
        return avio_tell(io)
    }
}
