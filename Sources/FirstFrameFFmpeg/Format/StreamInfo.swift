import CFFmpeg
import FirstFrameCore

/// What FFmpeg knows about one stream of an input, copied out as a value.
public struct StreamInfo: Sendable, Equatable, Codable {
    /// The stream's media type (`AVMEDIA_TYPE_*`); attachments and unknown types are `other`.
    public enum Kind: String, Sendable, Codable {
        case video, audio, data, subtitle, other

        package init(_ type: AVMediaType) {
            switch type {
            case AVMEDIA_TYPE_VIDEO: self = .video
            case AVMEDIA_TYPE_AUDIO: self = .audio
            case AVMEDIA_TYPE_DATA: self = .data
            case AVMEDIA_TYPE_SUBTITLE: self = .subtitle
            default: self = .other
            }
        }
    }

    public var index: Int
    public var kind: Kind
    /// FFmpeg's codec name (`h264`, `aac`, `flv1`…), `none` before the demuxer has seen the codec.
    public var codec: String
    public var width: Int
    public var height: Int
    public var sampleRate: Int
    public var channels: Int
    /// `avg_frame_rate` as frames per second, 0 when unknown.
    public var frameRate: Double
    public var timeBaseNumerator: Int
    public var timeBaseDenominator: Int
    /// The pixel format (`yuv420p`, …) or sample format (`fltp`, …); `none` while unknown.
    public var format: String
    /// The codec profile and level (`High`, 30), when the stream has them.
    public var profile: String?
    public var level: Int?
    /// The channel layout (`stereo`, `mono`, …) of an audio stream.
    public var channelLayout: String?
    /// Bytes of codec configuration (AVC/HEVC parameter sets, AAC AudioSpecificConfig): a muxer needs them.
    public var extradataSize: Int

    /// The time base of the stream's timestamps.
    public var timeBase: Rational { Rational(Int32(timeBaseNumerator), Int32(timeBaseDenominator)) }

    init(_ stream: UnsafeMutablePointer<AVStream>) {
        let parameters = stream.pointee.codecpar.pointee
        index = Int(stream.pointee.index)
        kind = Kind(parameters.codec_type)
        codec = String(cString: avcodec_get_name(parameters.codec_id))
        width = Int(parameters.width)
        height = Int(parameters.height)
        sampleRate = Int(parameters.sample_rate)
        channels = Int(parameters.ch_layout.nb_channels)
        let rate = stream.pointee.avg_frame_rate
        frameRate = rate.den == 0 ? 0 : Double(rate.num) / Double(rate.den)
        timeBaseNumerator = Int(stream.pointee.time_base.num)
        timeBaseDenominator = Int(stream.pointee.time_base.den)
        switch kind {
        case .video:
            format = av_get_pix_fmt_name(AVPixelFormat(parameters.format)).map { String(cString: $0) } ?? "none"
        case .audio:
            format = av_get_sample_fmt_name(AVSampleFormat(parameters.format)).map { String(cString: $0) } ?? "none"
        default: format = "none"
        }
        profile = avcodec_profile_name(parameters.codec_id, parameters.profile).map { String(cString: $0) }
        level = parameters.level > 0 ? Int(parameters.level) : nil
        if kind == .audio, parameters.ch_layout.nb_channels > 0 {
            var buffer = [CChar](repeating: 0, count: 64)
            var layout = parameters.ch_layout
            channelLayout =
                av_channel_layout_describe(&layout, &buffer, buffer.count) > 0
                ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
        } else {
            channelLayout = nil
        }
        extradataSize = Int(parameters.extradata_size)
    }

    /// Whether a muxer can take the stream as it is: a video stream with its size and pixel format, an audio
    /// stream with its sample rate, channels and sample format, and codec configuration for codecs that carry
    /// it out of band (H.264, HEVC, AAC).
    public var isCompleteForMuxing: Bool {
        let needsExtradata = ["h264", "hevc", "aac"].contains(codec)
        switch kind {
        case .video: return isUsable && format != "none" && (!needsExtradata || extradataSize > 0)
        case .audio: return isUsable && channels > 0 && format != "none" && (!needsExtradata || extradataSize > 0)
        default: return true
        }
    }

    /// A video stream without a size cannot be decoded into pictures: the case the
    /// "low latency" flag sets produce on live FLV.
    public var isUsable: Bool {
        switch kind {
        case .video: return codec != "none" && width > 0 && height > 0
        case .audio: return codec != "none" && sampleRate > 0
        default: return true
        }
    }
}

extension StreamInfo.Kind: CustomStringConvertible {
    /// Its name (`video`, `audio`, …): what `print` and string interpolation show, instead of the qualified case.
    public var description: String { rawValue }
}
