import NIOCore

/// Body bytes of a stream on their way to the socket, with what they were made from.
struct BodyBytes {
    var bytes: ByteBuffer
    /// The media tag the bytes are, or nil (the preamble, the end-of-sequence tag): what `end_after_ms`, the first
    /// keyframe's stamp and the sent log go by.
    var tag: EmittedTag?
    /// False once a fault has cut or altered the bytes: the sent log's `complete`.
    var intact: Bool

    init(_ bytes: ByteBuffer) {
        self.bytes = bytes
        self.tag = nil
        self.intact = true
    }

    init(tag: EmittedTag) {
        self.bytes = tag.bytes
        self.tag = tag
        self.intact = true
    }

    init(bytes: ByteBuffer, tag: EmittedTag?, intact: Bool) {
        self.bytes = bytes
        self.tag = tag
        self.intact = intact
    }
}
