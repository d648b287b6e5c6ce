import CFFmpeg
import FirstFrameCore

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

    private init(copying other: CodecParameters) {
        guard let parameters = avcodec_parameters_alloc() else { fatalError("avcodec_parameters_alloc: out of memory") }
        avcodec_parameters_copy(parameters, other.pointer)
        pointer = parameters
        timeBase = other.timeBase
        frameRate = other.frameRate
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
        let a = pointer.pointee
        let b = other.pointer.pointee
        guard a.codec_type == b.codec_type, a.codec_id == b.codec_id, a.width == b.width, a.height == b.height,
            a.sample_rate == b.sample_rate, a.ch_layout.nb_channels == b.ch_layout.nb_channels,
            a.extradata_size == b.extradata_size
        else { return false }
        guard a.extradata_size > 0, let left = a.extradata, let right = b.extradata else { return true }
        return memcmp(left, right, Int(a.extradata_size)) == 0
    }

    /// A copy for what follows a change in the stream: the codec configuration replaced by `extradata` when given
    /// (a new AVC or AAC sequence header), and the picture's size and pixel format as a decoder finds them in
    /// `keyframe` (the demuxer does not update them when the sequence header changes, and leaves them unset on a
    /// stream it creates mid-stream). One decode, on the caller's thread; the sizes stay as they were when the
    /// keyframe does not decode.
    package func updated(extradata: [UInt8]?, keyframe: Packet?) -> CodecParameters {
        let copy = CodecParameters(copying: self)
        if let extradata {
            av_freep(&copy.pointer.pointee.extradata)
            let padded = extradata.count + Int(AV_INPUT_BUFFER_PADDING_SIZE)
            if let bytes = av_mallocz(padded)?.assumingMemoryBound(to: UInt8.self) {
                bytes.update(from: extradata, count: extradata.count)
                copy.pointer.pointee.extradata = bytes
                copy.pointer.pointee.extradata_size = Int32(extradata.count)
            } else {
                copy.pointer.pointee.extradata_size = 0
            }
        }
        guard let keyframe, kind == .video, let decoder = try? CodecContext.decoder(for: copy.pointer, threads: 1)
        else {
            return copy
        }
        let frame = Frame()
        let decoded: Bool = {
            do throws(FFmpegError) {
                try decoder.send(keyframe.sharedReference())
                try decoder.send(nil as Packet?)
                return try decoder.receive(into: frame)
            } catch {
                return false
            }
        }()
        if decoded, frame.width > 0, frame.height > 0 {
            copy.pointer.pointee.width = Int32(frame.width)
            copy.pointer.pointee.height = Int32(frame.height)
            copy.pointer.pointee.format = frame.pointer.pointee.format
        }
        return copy
    }

    /// The codec configuration bytes (`extradata`: an AVC or AAC sequence header's payload), empty when there are none.
    public var extradata: [UInt8] {
        guard let bytes = pointer.pointee.extradata, pointer.pointee.extradata_size > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: bytes, count: Int(pointer.pointee.extradata_size)))
    }

    /// Picture width and height (0 when unknown).
    public var width: Int { Int(pointer.pointee.width) }
    public var height: Int { Int(pointer.pointee.height) }
}
