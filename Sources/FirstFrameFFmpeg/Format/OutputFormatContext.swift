import CFFmpeg
import FirstFrameCore

/// A file being muxed (`avformat_alloc_output_context2` + `avio_open`), owned: its I/O is closed with the object
/// (after the trailer when ``finish()`` was not called, so a file is never left without what it can still get).
///
/// Streams are copied from an input (remuxing, no re-encoding). Every call blocks on file I/O: run them on a
/// thread of your own, never on Swift's cooperative pool.
///
/// ```swift
/// let output = try OutputFormatContext(path: "/tmp/room.ts")
/// let video = try output.addStream(copying: input, streamIndex: 0)
/// try output.writeHeader()
/// try output.write(packet, toStream: video)     // timestamps rescaled from packet.timeBase
/// try output.finish()
/// ```
public final class OutputFormatContext {
    package let pointer: UnsafeMutablePointer<AVFormatContext>
    /// The path written to.
    public let path: String
    private var headerWritten = false
    private var finished = false

    /// Creates `path` (truncating it) for the muxer `format`, or the one its extension names (`.flv`, `.ts`,
    /// `.mkv`, `.mp4`, …) when `format` is nil.
    public init(path: String, format: String? = nil) throws(FFmpegError) {
        var context: UnsafeMutablePointer<AVFormatContext>? = nil
        try FFmpegError.check(
            avformat_alloc_output_context2(&context, nil, format, path),
            "avformat_alloc_output_context2(\(format ?? path))"
        )
        guard let context else {
            throw FFmpegError(code: .muxerNotFound, operation: "avformat_alloc_output_context2")
        }
        if context.pointee.oformat.pointee.flags & AVFMT_NOFILE == 0 {
            let opened = avio_open(&context.pointee.pb, path, AVIO_FLAG_WRITE)
            if opened < 0 {
                avformat_free_context(context)
                throw FFmpegError(code: opened, operation: "avio_open(\(path))")
            }
        }
        self.pointer = context
        self.path = path
    }

    deinit {
        if headerWritten && !finished { av_write_trailer(pointer) }
        if pointer.pointee.oformat.pointee.flags & AVFMT_NOFILE == 0 { avio_closep(&pointer.pointee.pb) }
        avformat_free_context(pointer)
    }

    /// The muxer's short name (`flv`, `mpegts`, `matroska`, `mp4`, …).
    public var formatName: String { String(cString: pointer.pointee.oformat.pointee.name) }

    /// Adds a stream with the codec parameters of `input`'s stream `index`; returns the new stream's index.
    @discardableResult
    public func addStream(copying input: InputFormatContext, streamIndex index: Int) throws(FFmpegError) -> Int {
        let stream = input.stream(at: index)
        return try addStream(
            parameters: stream.pointee.codecpar,
            timeBase: Rational(stream.pointee.time_base),
            frameRate: Rational(stream.pointee.avg_frame_rate)
        )
    }

    /// Adds a stream with a copy of `parameters`.
    @discardableResult
    public func addStream(_ parameters: CodecParameters) throws(FFmpegError) -> Int {
        try addStream(parameters: parameters.pointer, timeBase: parameters.timeBase, frameRate: parameters.frameRate)
    }

    private func addStream(
        parameters: UnsafePointer<AVCodecParameters>,
        timeBase: Rational,
        frameRate: Rational
    ) throws(FFmpegError) -> Int {
        precondition(!headerWritten, "streams are added before writeHeader()")
        guard let stream = avformat_new_stream(pointer, nil) else {
            throw FFmpegError(code: .system(ENOMEM), operation: "avformat_new_stream")
        }
        try FFmpegError.check(avcodec_parameters_copy(stream.pointee.codecpar, parameters), "avcodec_parameters_copy")
        // The input container's codec tag (FLV's 7 for H.264, …) means nothing to another container: let the
        // muxer choose its own unless it knows this one.
        let codecpar = stream.pointee.codecpar!
        var tag: UInt32 = 0
        if av_codec_get_tag2(pointer.pointee.oformat.pointee.codec_tag, codecpar.pointee.codec_id, &tag) == 0
            || tag != codecpar.pointee.codec_tag
        {
            codecpar.pointee.codec_tag = 0
        }
        stream.pointee.time_base = timeBase.avRational
        stream.pointee.avg_frame_rate = frameRate.avRational
        stream.pointee.r_frame_rate = frameRate.avRational
        return Int(stream.pointee.index)
    }

    public var streamCount: Int { Int(pointer.pointee.nb_streams) }

    /// Writes the container header. `options` are the muxer's (`movflags`, `flvflags`, …); an MP4 or MOV file
    /// is written fragmented unless `options` say otherwise (`frag_keyframe+empty_moov+default_base_moof`), so
    /// that a file cut short by a crash or a kill still plays up to its last fragment.
    public func writeHeader(options: [String: String] = [:]) throws(FFmpegError) {
        precondition(!headerWritten, "writeHeader() is called once")
        let dictionary = FFmpegOptions()
        if ["mp4", "mov", "ipod", "ismv"].contains(formatName), options["movflags"] == nil {
            dictionary.set("movflags", "frag_keyframe+empty_moov+default_base_moof")
        }
        for (key, value) in options.sorted(by: { $0.key < $1.key }) { dictionary.set(key, value) }
        try FFmpegError.check(avformat_write_header(pointer, &dictionary.pointer), "avformat_write_header(\(path))")
        headerWritten = true
    }

    /// Writes `packet` to stream `index`, its timestamps rescaled from the packet's ``Packet/timeBase``,
    /// interleaved by dts with the other streams. The packet's payload is handed to the muxer (the packet is
    /// left empty).
    public func write(_ packet: Packet, toStream index: Int) throws(FFmpegError) {
        precondition(index >= 0 && index < streamCount, "stream index out of range")
        precondition(headerWritten && !finished, "write() between writeHeader() and finish()")
        precondition(
            packet.timeBase.denominator > 0 && packet.timeBase.numerator > 0,
            "the packet has no time base (set when it is read): its timestamps cannot be placed"
        )
        packet.pointer.pointee.stream_index = Int32(index)
        packet.pointer.pointee.pos = -1
        av_packet_rescale_ts(
            packet.pointer,
            packet.timeBase.avRational,
            pointer.pointee.streams[index]!.pointee.time_base
        )
        try FFmpegError.check(
            av_interleaved_write_frame(pointer, packet.pointer),
            "av_interleaved_write_frame(\(path))"
        )
    }

    /// Pushes what the muxer holds to the file (what has been written survives a crash).
    public func flush() {
        guard headerWritten, !finished else { return }
        av_interleaved_write_frame(pointer, nil)
        if let io = pointer.pointee.pb { avio_flush(io) }
    }

    /// Bytes written to the file so far.
    public var bytesWritten: Int64 {
        guard let io = pointer.pointee.pb else { return 0 }
        return avio_tell(io)
    }

    /// Writes the trailer (index, duration) and flushes; idempotent.
    public func finish() throws(FFmpegError) {
        guard headerWritten, !finished else { return }
        finished = true
        try FFmpegError.check(av_write_trailer(pointer), "av_write_trailer(\(path))")
        if let io = pointer.pointee.pb { avio_flush(io) }
    }
}
