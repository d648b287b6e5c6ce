import NIOCore
import Synchronization

/// Something that takes the channel's tags on its own event loop: a connected client.
protocol ChannelViewer: AnyObject {
    func deliver(_ tags: [EmittedTag])
    /// The channel has ended (``LiveChannel/end()``): no tag follows.
    func channelEnded()
}
