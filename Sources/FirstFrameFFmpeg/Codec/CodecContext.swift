import CFFmpeg
import FirstFrameCore

/// An owned `AVCodecContext`, opened as a decoder or an encoder.
public final class CodecContext {
    package let pointer: UnsafeMutablePointer<AVCodecContext>

    private init(codec: UnsafePointer<AVCodec>) throws(FFmpegError) {
        guard let context = avcodec_alloc_context3(codec) else {
            throw FFmpegError(code: .system(ENOMEM), operation: "avcodec_alloc_context3")
        }
        pointer = context
    }

    deinit {
        var context: UnsafeMutablePointer<AVCodecContext>? = pointer
        avcodec_free_context(&context)
    }

    /// Opens the decoder for a stream's parameters.
    ///
    /// - Parameters:
    ///   - parameters: the stream's `codecpar`.
    ///   - threads: decoder threads; 1 avoids the (threads − 1)-frame delay frame threading adds
    ///     before the first picture, 0 lets FFmpeg choose.
    ///   - options: codec options; FFmpeg removes the ones it consumed.
    package static func decoder(
        for parameters: UnsafePointer<AVCodecParameters>,
        threads: Int = 1,
        options: FFmpegOptions? = nil
    ) throws(FFmpegError) -> CodecContext {
        guard let codec = avcodec_find_decoder(parameters.pointee.codec_id) else {
            throw FFmpegError(code: .decoderNotFound, operation: "avcodec_find_decoder")
        }
        let context = try CodecContext(codec: codec)
        try FFmpegError.check(
            avcodec_parameters_to_context(context.pointer, parameters),
            "avcodec_parameters_to_context"
        )
        context.pointer.pointee.thread_count = Int32(threads)
        try context.open(codec, options: options)
        return context
    }

    /// Opens the decoder for a copy of a stream's parameters (see ``decoder(for:threads:options:)``).
    package static func decoder(for parameters: CodecParameters, threads: Int = 1) throws(FFmpegError) -> CodecContext {
        try decoder(for: parameters.pointer, threads: threads)
    }

    /// Opens the encoder `name` (e.g. `libx264`, `aac`) after `configure` has set its parameters.
    package static func encoder(
        named name: String,
        options: FFmpegOptions? = nil,
        configure: (UnsafeMutablePointer<AVCodecContext>) throws(FFmpegError) -> Void
    ) throws(FFmpegError) -> CodecContext {
        guard let codec = avcodec_find_encoder_by_name(name) else {
            throw FFmpegError(
                code: CFFMPEG_AVERROR_ENCODER_NOT_FOUND,
                operation: "avcodec_find_encoder_by_name(\(name))"
            )
        }
        let context = try CodecContext(codec: codec)
        try configure(context.pointer)
        try context.open(codec, options: options)
        return context
    }

    /// Whether this FFmpeg build has an encoder called `name`.
    package static func hasEncoder(named name: String) -> Bool {
        avcodec_find_encoder_by_name(name) != nil
    }

    private func open(_ codec: UnsafePointer<AVCodec>, options: FFmpegOptions?) throws(FFmpegError) {
        let name = String(cString: codec.pointee.name)
        if let options {
            try FFmpegError.check(avcodec_open2(pointer, codec, &options.pointer), "avcodec_open2(\(name))")
        } else {
            try FFmpegError.check(avcodec_open2(pointer, codec, nil), "avcodec_open2(\(name))")
        }
    }

    /// Opens a decoder for stream `index` of `input` (its codec parameters as the demuxer knows them).
    ///
    /// - Parameters:
    ///   - threads: decoder threads; 1 avoids the (threads − 1)-frame delay frame threading adds before the
    ///     first picture, 0 lets FFmpeg choose.
    public static func decoder(
        for input: InputFormatContext,
        streamIndex index: Int,
        threads: Int = 1
    ) throws(FFmpegError) -> CodecContext {
        try decoder(for: input.stream(at: index).pointee.codecpar, threads: threads)
    }

    /// The codec's short name (`h264`, `aac`, …).
    public var codecName: String { String(cString: avcodec_get_name(pointer.pointee.codec_id)) }

    /// Sends a packet to a decoder; `nil` starts draining.
    public func send(_ packet: Packet?) throws(FFmpegError) {
        try FFmpegError.check(avcodec_send_packet(pointer, packet?.pointer), "avcodec_send_packet")
    }

    /// Sends a frame to an encoder; `nil` starts draining.
    package func send(_ frame: Frame?) throws(FFmpegError) {
        try FFmpegError.check(avcodec_send_frame(pointer, frame?.pointer), "avcodec_send_frame")
    }

    /// Receives the next decoded frame; `false` when the decoder needs more input or is drained.
    public func receive(into frame: Frame) throws(FFmpegError) -> Bool {
        let result = avcodec_receive_frame(pointer, frame.pointer)
        if result == cffmpeg_averror_eagain() || result == CFFMPEG_AVERROR_EOF { return false }
        try FFmpegError.check(result, "avcodec_receive_frame")
        return true
    }

    /// Receives the next encoded packet; `false` when the encoder needs more input or is drained.
    package func receive(into packet: Packet) throws(FFmpegError) -> Bool {
        let result = avcodec_receive_packet(pointer, packet.pointer)
        if result == cffmpeg_averror_eagain() || result == CFFMPEG_AVERROR_EOF { return false }
        try FFmpegError.check(result, "avcodec_receive_packet")
        return true
    }
}
