import Synchronization

/// A snapshot of what the origin has served.
public struct OriginStats: Sendable, Codable, Equatable {
    /// Clients currently connected with a stream request.
    public var activeViewers: Int
    /// Stream requests served since start (including finished ones).
    public var totalViewers: Int
    /// The most clients connected with a stream request at one time.
    public var peakActiveViewers: Int
    /// Body bytes sent to all clients since start.
    public var bytesSent: Int
    /// Tags not sent to slow clients since start.
    public var tagsDropped: Int
    /// Times a client fell behind and was moved on to the next keyframe.
    public var dropEvents: Int
    /// Tags the `stream` channel's clock has emitted.
    public var tagsEmitted: Int
    /// Milliseconds since the `stream` channel started.
    public var channelTimeMilliseconds: UInt64
    public var viewers: [ViewerStats]
    /// Every channel created so far (`stream` and each name requested), ended ones included, by name.
    public var channels: [ChannelStats]
}
