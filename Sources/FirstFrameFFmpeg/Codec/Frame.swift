import CFFmpeg
import FirstFrameCore

/// An owned `AVFrame`: a decoded picture or block of samples, or one to be encoded.
public final class Frame {
    package let pointer: UnsafeMutablePointer<AVFrame>

    public init() {
        guard let frame = av_frame_alloc() else { fatalError("av_frame_alloc: out of memory") }
        pointer = frame
    }

    deinit {
        var frame: UnsafeMutablePointer<AVFrame>? = pointer
        av_frame_free(&frame)
    }

    public var width: Int { Int(pointer.pointee.width) }
    public var height: Int { Int(pointer.pointee.height) }
    public var sampleCount: Int { Int(pointer.pointee.nb_samples) }
    /// Presentation timestamp in the codec's time base, `nil` when FFmpeg has none.
    public var pts: Int64? { pointer.pointee.pts == CFFMPEG_AV_NOPTS_VALUE ? nil : pointer.pointee.pts }
    public var isKeyframe: Bool { pointer.pointee.key_frame != 0 }
    /// The decoder flagged the picture as possibly damaged (`AV_FRAME_FLAG_CORRUPT`): concealed, or decoded from
    /// missing references.
    public var isCorrupt: Bool { pointer.pointee.flags & AV_FRAME_FLAG_CORRUPT != 0 }

    /// Allocates picture planes for `format` at `width`×`height` (for frames we fill and encode).
    package func allocatePicture(format: AVPixelFormat, width: Int, height: Int) throws(FFmpegError) {
        pointer.pointee.format = format.rawValue
        pointer.pointee.width = Int32(width)
        pointer.pointee.height = Int32(height)
        try FFmpegError.check(av_frame_get_buffer(pointer, 0), "av_frame_get_buffer")
    }

    /// Allocates sample buffers for `format` with the channel layout of `channels` default channels.
    package func allocateSamples(format: AVSampleFormat, sampleRate: Int, channels: Int, count: Int) throws(FFmpegError)
    {
        pointer.pointee.format = format.rawValue
        pointer.pointee.sample_rate = Int32(sampleRate)
        pointer.pointee.nb_samples = Int32(count)
        av_channel_layout_default(&pointer.pointee.ch_layout, Int32(channels))
        try FFmpegError.check(av_frame_get_buffer(pointer, 0), "av_frame_get_buffer")
    }

    /// Makes the buffers writable (copying them if an encoder still holds a reference).
    package func makeWritable() throws(FFmpegError) {
        try FFmpegError.check(av_frame_make_writable(pointer), "av_frame_make_writable")
    }

    public func unref() { av_frame_unref(pointer) }
}
