/// The outbound user event ``ViewerHandler`` triggers once it has joined its channel, just before the response
/// head: what the handlers between it and the socket need to know about the stream. Each takes its part as the
/// event passes on its way to the socket, so none of them needs the channel or the request.
struct StreamStarted: Sendable {
    /// The request's injected behaviour: framing, body faults, the drop and the end.
    var behaviour: Behaviour
    /// The viewer's counters: bytes, drops, first writes; its id is the sent log's connection.
    var viewer: ViewerCounters
    /// The channel's sent log, when the origin keeps one.
    var sentLog: SentLog?
    /// Channel time of the preamble's sequence headers: the end-of-sequence tag of an end before any frame
    /// carries it, so that timestamps never run backwards.
    var timestamp: UInt32
    /// Hold every tag back until a keyframe: a `live` join with `waitkey=1`, or a `gop`/`burst` join to a channel
    /// that has no keyframe cached yet.
    var waitsForKeyframe: Bool
    /// Channel time a catch-up queue may span before it skips ahead (two GOPs), in milliseconds.
    var catchUpSpanLimit: UInt32
    /// Whether a clean end sends the AVC end-of-sequence tag (H.264 only).
    var endsWithEndOfSequence: Bool
}
