/// The inbound user event that says a stream's body is over, fired by the handler that ended it. It travels toward
/// ``ViewerHandler``, so that every handler on the way stops at once (in the middle of the write that caused it,
/// when there is one): the pacer empties its queue, the viewer leaves its channel.
enum StreamStopped: Sendable, Equatable {
    /// `stall_after` reached: the connection stays open, silent.
    case stalled
    /// `close_after` reached: the connection closes once the cut body has gone out.
    case cut
    /// Ended cleanly (`end_after_ms`, or the channel ended): the connection closes once the end has gone out.
    case ended
    /// `close_after_ms`: the connection is dropped now.
    case dropped
}
