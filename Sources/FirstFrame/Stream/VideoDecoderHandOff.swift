import FirstFrameFFmpeg

/// The open's video decoder, primed, with the first picture: a player goes on decoding with it.
///
/// Fed the handed-on video packets after the ones it has seen, the decoder gives the pictures after
/// ``firstPicture``, in order, never ``firstPicture`` again: with `decodeKeyframeAlone` the picture came from a
/// decoder of its own, and this one was primed with the keyframe marked not to be shown (should priming fail,
/// ``packetsAlreadyDecoded`` is 0 and the first picture comes once more).
///
/// Not `Sendable`: it is handed over once (``OpenedStream/takeVideoDecoder()`` returns it `sending`) and has one
/// owner after that.
public struct VideoDecoderHandOff {
    /// The decoder to go on with, open and primed.
    public let decoder: CodecContext
    /// The first decoded picture.
    public let firstPicture: Frame
    /// How many of the handed-on video packets (counting from the first keyframe) the decoder has been fed already:
    /// skip that many when you keep decoding with it.
    public let packetsAlreadyDecoded: Int
}
