import CFFmpeg
import FirstFrameCore

/// Stream by stream, what the demuxer knows of each codec so far, read field by field: cheap enough to ask after
/// every packet (``StreamInfo`` formats names and layouts), for code that waits for streams to appear.
extension InputFormatContext {
    /// The kind of stream `index` (its codec parameters' media type).
    package func kind(ofStream index: Int) -> StreamInfo.Kind {
        StreamInfo.Kind(stream(at: index).pointee.codecpar.pointee.codec_type)
    }

    /// The short name of stream `index`'s codec (`h264`, `aac`, …), `none` while the demuxer has not seen it.
    package func codecName(ofStream index: Int) -> String {
        String(cString: avcodec_get_name(stream(at: index).pointee.codecpar.pointee.codec_id))
    }

    /// Whether the demuxer knows stream `index`'s codec yet (its codec id is not `AV_CODEC_ID_NONE`).
    package func hasCodec(ofStream index: Int) -> Bool {
        stream(at: index).pointee.codecpar.pointee.codec_id != AV_CODEC_ID_NONE
    }

    /// Bytes of stream `index`'s codec configuration (extradata: AVC/HEVC parameter sets, AAC's
    /// AudioSpecificConfig); 0 while it has none.
    package func extradataSize(ofStream index: Int) -> Int {
        Int(stream(at: index).pointee.codecpar.pointee.extradata_size)
    }

    /// The time base of stream `index`'s timestamps.
    package func timeBase(ofStream index: Int) -> Rational {
        Rational(stream(at: index).pointee.time_base)
    }
}
