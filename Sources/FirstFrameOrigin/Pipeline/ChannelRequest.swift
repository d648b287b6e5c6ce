/// A stream request with the channel it plays: what ``ChannelLookupHandler`` hands ``ViewerHandler``.
struct ChannelRequest {
    let request: OriginRequest
    let channel: LiveChannel
}
