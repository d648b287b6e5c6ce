import FirstFrameFFmpeg

/// Decodes the open's first picture from the queued packets, two ways.
///
/// With `decodeKeyframeAlone`, a one-thread decoder decodes the first keyframe alone and is drained at once, so no
/// reorder buffer or frame thread holds the picture; the decoder handed on is made and primed when it is taken
/// (``PendingVideoDecoder``). Otherwise, or when the keyframe gives no picture alone, a decoder is fed from the
/// keyframe on until it gives a picture, and is handed on as it is.
struct FirstPictureDecoder {
    /// The first picture and the decoder that gave it.
    struct FirstPicture {
        var picture: Frame
        var decoder: CodecContext
        /// The keyframe, when it was decoded alone.
        var keyframeAlone: Packet?
        /// Video packets, from the first keyframe, the decoder took before it gave the picture.
        var packetsDecoded: Int

        /// How the decoder reached the picture, for the report.
        var report: FirstFrameReport.FirstPictureDecode {
            .init(decoder: decoder, keyframeAlone: keyframeAlone != nil, packetsDecoded: packetsDecoded)
        }
    }

    var decodeKeyframeAlone: Bool
    /// The decoder threads of a decoder fed in order (and of the kept one).
    var threads: Int

    init(knobs: TuningKnobs) {
        decodeKeyframeAlone = knobs.decodeKeyframeAlone
        threads = knobs.decoderThreads
    }

    /// The first picture of video stream `video`, reading on into `queue` if the queued packets do not give one.
    func decode(_ input: InputFormatContext, video: Int, queue: inout PacketQueue) throws -> FirstPicture {
        if decodeKeyframeAlone, let index = queue.firstKeyframe(of: video) {
            // Decoding the keyframe alone needs no more than one thread: frame threads only add their delay.
            let decoder = try openVideoDecoder(input, video: video, threads: 1)
            let keyframe = queue.packets[index]
            if let frame = try Self.decodeAlone(keyframe, decoder: decoder) {
                return FirstPicture(picture: frame, decoder: decoder, keyframeAlone: keyframe, packetsDecoded: 1)
            }
            // Drained without a picture: decoding in order starts over in a fresh decoder.
        }
        let decoder = try openVideoDecoder(input, video: video, threads: threads)
        let (frame, packets) = try decodeInOrder(input, video: video, decoder: decoder, queue: &queue)
        return FirstPicture(picture: frame, decoder: decoder, keyframeAlone: nil, packetsDecoded: packets)
    }

    /// `keyframe`'s picture from `decoder` (one thread, fresh), drained after the one packet: nil when it gives none
    /// or one the decoder flags as damaged (a "keyframe" that does not decode on its own: an inter frame a muxer
    /// flagged as key), and the caller decodes in order instead, as it would have without the knob.
    static func decodeAlone(_ keyframe: Packet, decoder: CodecContext) throws -> Frame? {
        let frame = Frame()
        try decoder.send(keyframe)
        if try !decoder.receive(into: frame) {
            try decoder.send(nil as Packet?)
            guard try decoder.receive(into: frame) else { return nil }
        }
        return frame.isCorrupt ? nil : frame
    }

    private func openVideoDecoder(_ input: InputFormatContext, video: Int, threads: Int) throws -> CodecContext {
        do {
            return try CodecContext.decoder(for: input, streamIndex: video, threads: threads)
        } catch {
            throw PipelineFailure(stage: .decode, kind: .decoder, message: "\(error)")
        }
    }

    /// Feeds `decoder` the video packets from the keyframe on, reading more onto `queue` as needed.
    /// - Returns: the picture and the packets it took.
    private func decodeInOrder(
        _ input: InputFormatContext,
        video: Int,
        decoder: CodecContext,
        queue: inout PacketQueue
    ) throws -> (Frame, Int) {
        let frame = Frame()
        var decoded = 0
        var next = 0
        var keyframe: Int?
        while true {
            while next < queue.count {
                let index = next
                next += 1
                // Inter frames before the first keyframe would decode to concealment garbage.
                if keyframe == nil { keyframe = queue.firstKeyframe(of: video) }
                guard let keyframe, index >= keyframe, queue.packets[index].streamIndex == video else { continue }
                try decoder.send(queue.packets[index])
                decoded += 1
                if try decoder.receive(into: frame) { return (frame, decoded) }
            }
            try queue.read(from: input)
        }
    }

    /// The first audio frame, decoded after the picture so it never delays it: when it came out, nil when no
    /// audio packet is queued or none decodes.
    ///
    /// Its decoder, opened from the codec configuration even when no audio packet has come yet, completes the
    /// audio stream's parameters (sample format, layout) for a muxer.
    static func decodeFirstAudio(_ input: InputFormatContext, queue: PacketQueue) -> UInt64? {
        guard let audio = input.bestStream(.audio),
            let decoder = try? CodecContext.decoder(for: input, streamIndex: audio, threads: 1)
        else { return nil }
        defer { input.completeParameters(ofStream: audio, from: decoder) }
        guard let packet = queue.packets.first(where: { $0.streamIndex == audio }) else { return nil }
        let frame = Frame()
        if (try? decoder.send(packet)) != nil, (try? decoder.receive(into: frame)) == true {
            return MonotonicClock.nanoseconds()
        }
        return nil
    }

    /// The video decoder as the kept stream holds it, once the stream's parameters are complete: what a preset
    /// that skipped `avformat_find_stream_info` left unset (picture size, pixel format, profile, frame rate) comes
    /// from the primed decoder and the queued timestamps, so that a muxer can take the input as it is handed over.
    func handOff(
        _ first: FirstPicture,
        input: InputFormatContext,
        video: Int,
        queue: PacketQueue
    )
        -> PendingVideoDecoder
    {
        input.completeParameters(ofStream: video, from: first.decoder)
        input.estimateFrameRate(
            ofStream: video,
            dts: queue.packets.filter { $0.streamIndex == video }.compactMap(\.dts)
        )
        guard let keyframeAlone = first.keyframeAlone else {
            return .primed(
                VideoDecoderHandOff(
                    decoder: first.decoder,
                    firstPicture: first.picture,
                    packetsAlreadyDecoded: first.packetsDecoded
                )
            )
        }
        // The decoder handed on is made, when it is taken, from the parameters as completed.
        return .toPrime(
            .init(
                parameters: CodecParameters(of: input, streamIndex: video),
                threads: threads,
                keyframe: keyframeAlone.sharedReference(),
                firstPicture: first.picture
            )
        )
    }
}
