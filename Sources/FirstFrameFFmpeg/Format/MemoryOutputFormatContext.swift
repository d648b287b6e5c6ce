import CFFmpeg
import FirstFrameCore

/// An output muxed into memory through a custom `AVIOContext`: what the origin uses to turn encoded
/// packets into FLV bytes without touching the file system.
package final class MemoryOutputFormatContext {
    package let pointer: UnsafeMutablePointer<AVFormatContext>
    private let sink: Sink

    /// Collects what the muxer writes. A class so the C callback can reach it through `opaque`.
    private final class Sink {
        var bytes: [UInt8] = []
    }

    private static let bufferSize: Int32 = 64 * 1024

    private static let write: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<UInt8>?, Int32) -> Int32 =
        {
            opaque,
            buffer,
            size in
            guard let opaque, let buffer, size > 0 else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(opaque).takeUnretainedValue()
            sink.bytes.append(contentsOf: UnsafeBufferPointer(start: buffer, count: Int(size)))
            return size
        }

    /// Creates a muxer for `format` (e.g. `flv`) writing to memory.
    package init(format: String) throws(FFmpegError) {
        var context: UnsafeMutablePointer<AVFormatContext>? = nil
        try FFmpegError.check(
            avformat_alloc_output_context2(&context, nil, format, nil),
            "avformat_alloc_output_context2(\(format))"
        )
        guard let context else {
            throw FFmpegError(code: .muxerNotFound, operation: "avformat_alloc_output_context2")
        }
        sink = Sink()
        guard let buffer = av_malloc(Int(Self.bufferSize)) else {
            avformat_free_context(context)
            throw FFmpegError(code: .system(ENOMEM), operation: "av_malloc")
        }
        guard
            let io = avio_alloc_context(
                buffer.assumingMemoryBound(to: UInt8.self),
                Self.bufferSize,
                1,
                Unmanaged.passUnretained(sink).toOpaque(),
                nil,
                Self.write,
                nil
            )
        else {
            av_free(buffer)
            avformat_free_context(context)
            throw FFmpegError(code: .system(ENOMEM), operation: "avio_alloc_context")
        }
        context.pointee.pb = io
        context.pointee.flags |= AVFMT_FLAG_CUSTOM_IO
        pointer = context
    }

    deinit {
        // Custom I/O is ours to free: the buffer (FFmpeg may have replaced it), then the context; detach it
        // from the format context first so that nothing there can reach it.
        var io: UnsafeMutablePointer<AVIOContext>? = pointer.pointee.pb
        pointer.pointee.pb = nil
        if io != nil { av_freep(&io!.pointee.buffer) }
        avio_context_free(&io)
        avformat_free_context(pointer)
    }

    /// Adds a stream carrying what `encoder` produces; returns its index.
    @discardableResult
    package func addStream(from encoder: CodecContext) throws(FFmpegError) -> Int {
        guard let stream = avformat_new_stream(pointer, nil) else {
            throw FFmpegError(code: .system(ENOMEM), operation: "avformat_new_stream")
        }
        try FFmpegError.check(
            avcodec_parameters_from_context(stream.pointee.codecpar, encoder.pointer),
            "avcodec_parameters_from_context"
        )
        stream.pointee.time_base = encoder.pointer.pointee.time_base
        return Int(stream.pointee.index)
    }

    package func writeHeader(options: FFmpegOptions? = nil) throws(FFmpegError) {
        if let options {
            try FFmpegError.check(avformat_write_header(pointer, &options.pointer), "avformat_write_header")
        } else {
            try FFmpegError.check(avformat_write_header(pointer, nil), "avformat_write_header")
        }
    }

    /// Writes `packet` (timestamps in `timeBase`) to stream `streamIndex`, interleaving by dts.
    package func write(_ packet: Packet, streamIndex: Int, timeBase: AVRational) throws(FFmpegError) {
        precondition(streamIndex >= 0 && streamIndex < Int(pointer.pointee.nb_streams), "stream index out of range")
        packet.pointer.pointee.stream_index = Int32(streamIndex)
        av_packet_rescale_ts(packet.pointer, timeBase, pointer.pointee.streams[streamIndex]!.pointee.time_base)
        try FFmpegError.check(av_interleaved_write_frame(pointer, packet.pointer), "av_interleaved_write_frame")
    }

    /// Writes the trailer and returns everything muxed.
    package func finish() throws(FFmpegError) -> [UInt8] {
        try FFmpegError.check(av_write_trailer(pointer), "av_write_trailer")
        avio_flush(pointer.pointee.pb)
        return sink.bytes
    }
}
