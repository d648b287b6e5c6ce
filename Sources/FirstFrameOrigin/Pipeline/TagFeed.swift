/// What ``ViewerHandler`` writes to ``TagPacingHandler``: tags for the pacer to send at their time, or response parts
/// that go straight on.
enum TagFeed {
    /// The head, the preamble or the clean end: nothing to pace.
    case part(ResponsePart)
    /// A `gop` or `burst` join's cached GOP, sent ahead of every live tag at `speed` × real time (`gop`: infinite,
    /// at once) and as fast as the connection takes it.
    case catchUp([EmittedTag], speed: Double)
    /// Tags as the channel emits them.
    case live([EmittedTag])
}
