/// One channel of the origin: which program it plays and how far its clock has run.
public struct ChannelStats: Sendable, Codable, Equatable {
    /// The name in its URLs (`room7` for `/live/room7.flv`).
    public var name: String
    /// Which of the ``OriginConfiguration/distinctPrograms`` synthesised programs (picture and tone) it plays;
    /// 0 is the original one `stream` plays.
    public var program: Int
    /// The GOP of the loop it started at: channels sharing a program start at different GOPs.
    public var firstGOP: Int
    /// Milliseconds since the channel started (its first request, or the origin's start for `stream`).
    public var channelTimeMilliseconds: UInt64
    /// Tags its clock has emitted.
    public var tagsEmitted: Int
    /// Clients connected to it now.
    public var viewers: Int
    /// Whether it has ended (``LiveOrigin/endChannel(_:)`` or `end_channel=1`): requests for it get 404.
    public var ended: Bool

    init(_ channel: LiveChannel, viewers: Int) {
        name = channel.name.value
        program = channel.program.look.index
        firstGOP = channel.program.firstGOP
        channelTimeMilliseconds = channel.channelTime
        tagsEmitted = channel.tagsEmitted
        self.viewers = viewers
        ended = channel.hasEnded
    }
}
