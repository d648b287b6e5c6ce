/// The open's video decoder, primed, with the picture it produced: a player goes on decoding with it.
///
/// Not `Sendable`: it is handed over once (``OpenedStream/takeVideoDecoder()`` returns it `sending`) and has one
/// owner after that.
public struct VideoDecoderHandOff {
    /// The decoder that produced ``firstPicture``, open and primed.
    public let decoder: CodecContext
    /// The first decoded picture.
    public let firstPicture: Frame
    /// How many of the handed-on video packets (counting from the first keyframe) the decoder has been fed already:
    /// skip that many when you keep decoding with it.
    public let packetsAlreadyDecoded: Int
}
