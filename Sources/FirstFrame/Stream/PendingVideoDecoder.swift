import FirstFrameFFmpeg

/// The open's video decoder as the stream holds it until ``OpenedStream/takeVideoDecoder()``: primed already, or
/// still to be primed with the keyframe the first picture was decoded from alone (`decodeKeyframeAlone`).
///
/// Priming waits for the take because only a player needs it: a recorder or a report-only open never pays the
/// second decode of the keyframe, and a player pays it on its own thread, after it has its first picture.
enum PendingVideoDecoder {
    /// The decoder that produced the first picture, fed the handed-on packets it has seen.
    case primed(VideoDecoderHandOff)
    /// The first picture came from a drained decoder of its own; the kept decoder is made and primed on take.
    case toPrime(KeyframeAlone)

    /// What priming a decoder for a first picture decoded alone needs.
    struct KeyframeAlone {
        /// The video stream's parameters as handed on.
        var parameters: CodecParameters
        var threads: Int
        /// A reference to the first keyframe (the handed-on packet is the caller's: this one is never handed out).
        var keyframe: Packet
        var firstPicture: Frame
    }

    /// The hand-off, priming the decoder first when it waits for that; nil when the decoder cannot be opened
    /// (out of memory: it opened for the first picture moments before).
    ///
    /// The kept decoder decodes the keyframe marked `AV_PKT_FLAG_DISCARD`: it keeps it as a reference and in its
    /// reorder buffer, and never outputs it, so its first picture is the one after the first picture.
    func handOff() -> VideoDecoderHandOff? {
        switch self {
        case .primed(let handOff):
            return handOff
        case .toPrime(let alone):
            guard let decoder = try? CodecContext.decoder(for: alone.parameters, threads: alone.threads) else {
                return nil
            }
            alone.keyframe.addFlags(.discard)
            // A keyframe this decoder refuses (it took the same bytes moments before, in the first picture's
            // decoder) leaves it unprimed: `packetsAlreadyDecoded` 0 has the player feed it the keyframe, and the
            // first picture comes once more.
            let primed = (try? decoder.send(alone.keyframe)) != nil
            return VideoDecoderHandOff(
                decoder: decoder,
                firstPicture: alone.firstPicture,
                packetsAlreadyDecoded: primed ? 1 : 0
            )
        }
    }
}
