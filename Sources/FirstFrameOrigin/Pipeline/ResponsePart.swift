import NIOCore

/// What a stream's handlers write toward the socket before ``ResponseFramingHandler`` makes bytes of it. Each
/// handler on the way acts on the parts that are its business and passes the rest on.
enum ResponsePart {
    /// Bytes that go out as they are: a stream's response head, a whole ``ShortResponse``, or nothing at all (an
    /// empty write, which completes once everything written before it has gone out).
    case raw(ByteBuffer)
    /// FLV bytes of the stream's body: the ones the byte offsets of the body faults count.
    case body(BodyBytes)
    /// The clean end of the body: the final chunk when chunked, nothing more otherwise.
    case end
}
