import FirstFrameCore
import CFFmpeg

/// An owned copy of a stream's codec parameters (`AVCodecParameters`) with its time base and frame rate: what
/// a recorder keeps to start another file, or to tell whether a reconnected input still carries the same codec
/// configuration.
public final class CodecParameters {
    package let pointer: UnsafeMutablePointer<AVCodecParameters>
    public let timeBase: Rational
    public let frameRate: Rational

    /// Copies the parameters of `input`'s stream `index`.
    public init(of input: InputFormatContext, streamIndex index: Int) {
        guard let parameters = avcodec_parameters_alloc() else { fatalError("avcodec_parameters_alloc: out of memory") }
        let stream = input.stream(at: index)
        avcodec_parameters_copy(parameters, stream.pointee.codecpar)
        pointer = parameters
        timeBase = Rational(stream.pointee.time_base)
        frameRate = Rational(stream.pointee.avg_frame_rate)
    }

    deinit {
        var parameters: UnsafeMutablePointer<AVCodecParameters>? = pointer
        avcodec_parameters_free(&parameters)
    }

    public var kind: StreamInfo.Kind { StreamInfo.Kind(pointer.pointee.codec_type) }
    public var codec: String { String(cString: avcodec_get_name(pointer.pointee.codec_id)) }

    /// Whether a file muxed with `self` can go on with packets described by `other`: same codec, picture size
    /// or sample rate and channels, and the same codec configuration bytes.
    public func isCompatible(with other: CodecParameters) -> Bool {
        let a = pointer.pointee, b = other.pointer.pointee
        guard a.codec_type == b.codec_type, a.codec_id == b.codec_id, a.width == b.width, a.height == b.height,
              a.sample_rate == b.sample_rate, a.ch_layout.nb_channels == b.ch_layout.nb_channels,
              a.extradata_size == b.extradata_size
        else { return false }
        guard a.extradata_size > 0, let left = a.extradata, let right = b.extradata else { return true }
        return memcmp(left, right, Int(a.extradata_size)) == 0
    }
}
