import CFFmpeg
import FirstFrameCore

extension InputFormatContext {
    /// Fills in what the demuxer left unset in stream `index`'s codec parameters from a decoder that has decoded
    /// from it: without `avformat_find_stream_info`, FLV's video stream has no size or pixel format and a muxer
    /// refuses it ("dimensions not set"). Values the demuxer set are kept.
    package func completeParameters(ofStream index: Int, from decoder: CodecContext) {
        let stream = stream(at: index)
        let parameters = stream.pointee.codecpar!
        let context = decoder.pointer
        switch parameters.pointee.codec_type {
        case AVMEDIA_TYPE_VIDEO:
            if parameters.pointee.width <= 0 || parameters.pointee.height <= 0 {
                parameters.pointee.width = context.pointee.width
                parameters.pointee.height = context.pointee.height
            }
            if parameters.pointee.format < 0 { parameters.pointee.format = context.pointee.pix_fmt.rawValue }
            if parameters.pointee.sample_aspect_ratio.num == 0 {
                parameters.pointee.sample_aspect_ratio = context.pointee.sample_aspect_ratio
            }
            if parameters.pointee.video_delay == 0 { parameters.pointee.video_delay = context.pointee.has_b_frames }
            if parameters.pointee.color_range == AVCOL_RANGE_UNSPECIFIED {
                parameters.pointee.color_range = context.pointee.color_range
            }
            if parameters.pointee.color_primaries == AVCOL_PRI_UNSPECIFIED {
                parameters.pointee.color_primaries = context.pointee.color_primaries
            }
            if parameters.pointee.color_trc == AVCOL_TRC_UNSPECIFIED {
                parameters.pointee.color_trc = context.pointee.color_trc
            }
            if parameters.pointee.color_space == AVCOL_SPC_UNSPECIFIED {
                parameters.pointee.color_space = context.pointee.colorspace
            }
            if parameters.pointee.chroma_location == AVCHROMA_LOC_UNSPECIFIED {
                parameters.pointee.chroma_location = context.pointee.chroma_sample_location
            }
            if parameters.pointee.field_order == AV_FIELD_UNKNOWN {
                parameters.pointee.field_order = context.pointee.field_order
            }
            if stream.pointee.avg_frame_rate.num == 0, context.pointee.framerate.num > 0,
                context.pointee.framerate.den > 0
            {
                stream.pointee.avg_frame_rate = context.pointee.framerate
            }
        case AVMEDIA_TYPE_AUDIO:
            if parameters.pointee.sample_rate <= 0 { parameters.pointee.sample_rate = context.pointee.sample_rate }
            if parameters.pointee.ch_layout.nb_channels <= 0
                || parameters.pointee.ch_layout.order == AV_CHANNEL_ORDER_UNSPEC
            {
                av_channel_layout_uninit(&parameters.pointee.ch_layout)
                av_channel_layout_copy(&parameters.pointee.ch_layout, &context.pointee.ch_layout)
            }
            if parameters.pointee.format < 0 { parameters.pointee.format = context.pointee.sample_fmt.rawValue }
            if parameters.pointee.frame_size <= 0 { parameters.pointee.frame_size = context.pointee.frame_size }
        default:
            break
        }
        if parameters.pointee.profile == FF_PROFILE_UNKNOWN { parameters.pointee.profile = context.pointee.profile }
        if parameters.pointee.level == FF_LEVEL_UNKNOWN { parameters.pointee.level = context.pointee.level }
        if parameters.pointee.bit_rate <= 0 { parameters.pointee.bit_rate = context.pointee.bit_rate }
        if parameters.pointee.extradata_size == 0, context.pointee.extradata_size > 0,
            let source = context.pointee.extradata,
            let copy = av_mallocz(Int(context.pointee.extradata_size) + Int(AV_INPUT_BUFFER_PADDING_SIZE))
        {
            copy.copyMemory(from: source, byteCount: Int(context.pointee.extradata_size))
            parameters.pointee.extradata = copy.assumingMemoryBound(to: UInt8.self)
            parameters.pointee.extradata_size = context.pointee.extradata_size
        }
    }

    /// Sets stream `index`'s frame rate from the timestamps of `dts` (its packets, in order) when the demuxer
    /// has none: the median step between them.
    package func estimateFrameRate(ofStream index: Int, dts: [Int64]) {
        let stream = stream(at: index)
        guard stream.pointee.avg_frame_rate.num == 0, dts.count >= 3 else { return }
        let steps = zip(dts.dropFirst(), dts).map { $0 - $1 }.filter { $0 > 0 }.sorted()
        guard !steps.isEmpty else { return }
        let step = steps[steps.count / 2]
        let timeBase = stream.pointee.time_base
        var rate = AVRational()
        // frames per second = 1 / (step × time base), reduced to a small fraction (25/1, 30000/1001, …).
        av_reduce(&rate.num, &rate.den, Int64(timeBase.den), step * Int64(timeBase.num), 1_000_000)
        guard rate.num > 0, rate.den > 0 else { return }
        stream.pointee.avg_frame_rate = rate
        if stream.pointee.r_frame_rate.num == 0 { stream.pointee.r_frame_rate = rate }
    }
}
