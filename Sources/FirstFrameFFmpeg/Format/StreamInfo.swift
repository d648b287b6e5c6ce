import FirstFrameCore
import CFFmpeg

/// What FFmpeg knows about one stream of an input, copied out as a value.
public struct StreamInfo: Sendable, Equatable, Codable {
    /// The stream's media type (`AVMEDIA_TYPE_*`); attachments and unknown types are `other`.
    public enum Kind: String, Sendable, Codable { case video, audio, data, subtitle, other }

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

    init(_ stream: UnsafeMutablePointer<AVStream>) {
        let parameters = stream.pointee.codecpar.pointee
        index = Int(stream.pointee.index)
        switch parameters.codec_type {
        case AVMEDIA_TYPE_VIDEO: kind = .video
        case AVMEDIA_TYPE_AUDIO: kind = .audio
        case AVMEDIA_TYPE_DATA: kind = .data
        case AVMEDIA_TYPE_SUBTITLE: kind = .subtitle
        default: kind = .other
        }
        codec = String(cString: avcodec_get_name(parameters.codec_id))
        width = Int(parameters.width)
        height = Int(parameters.height)
        sampleRate = Int(parameters.sample_rate)
        channels = Int(parameters.ch_layout.nb_channels)
        let rate = stream.pointee.avg_frame_rate
        frameRate = rate.den == 0 ? 0 : Double(rate.num) / Double(rate.den)
        timeBaseNumerator = Int(stream.pointee.time_base.num)
        timeBaseDenominator = Int(stream.pointee.time_base.den)
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
