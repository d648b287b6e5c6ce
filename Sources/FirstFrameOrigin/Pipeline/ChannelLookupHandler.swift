import NIOCore

/// Finds the channel a stream request names and passes the request on with it (a ``ChannelRequest``). A name's
/// first request has the directory create its channel, and waits while its program is synthesised (requests for a
/// name being made wait for the same channel). No channel to play: 404 when it has ended, 503 when the origin has its
/// maximum of channels, 500 when it could not be made.
final class ChannelLookupHandler: ChannelInboundHandler {
    typealias InboundIn = OriginRequest
    typealias InboundOut = ChannelRequest
    typealias OutboundOut = ByteBuffer

    /// ``ChannelDirectory/channel(named:)``, or what a test puts in its place.
    private let lookUp: (ChannelName) -> ChannelDirectory.Lookup
    private let maximumChannels: Int
    /// Waiting for a channel being made; cleared when the client goes, so a late channel is not played to nobody.
    private var waiting = false

    convenience init(channels: ChannelDirectory, maximumChannels: Int) {
        self.init(maximumChannels: maximumChannels, lookUp: channels.channel(named:))
    }

    init(maximumChannels: Int, lookUp: @escaping (ChannelName) -> ChannelDirectory.Lookup) {
        self.lookUp = lookUp
        self.maximumChannels = maximumChannels
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = unwrapInboundIn(data)
        guard let name = request.channel else { return }
        switch lookUp(name) {
        case .ready(let channel):
            context.fireChannelRead(wrapInboundOut(ChannelRequest(request: request, channel: channel)))
        case .ended:
            respond(context, .channelEnded(request))
        case .full:
            respond(
                context,
                ShortResponse(status: 503, body: "the origin has its maximum of \(maximumChannels) channels\n")
            )
        case .pending(let future):
            waiting = true
            future.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                // The client may have gone while the channel was being made.
                guard self.waiting else { return }
                self.waiting = false
                switch result {
                case .success(let channel):
                    context.fireChannelRead(self.wrapInboundOut(ChannelRequest(request: request, channel: channel)))
                case .failure(let error) where error is ChannelDirectory.Ended:
                    self.respond(context, .channelEnded(request))
                case .failure(let error):
                    self.respond(
                        context,
                        ShortResponse(status: 500, body: "channel \(name) could not be made: \(error)\n")
                    )
                }
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        waiting = false
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        waiting = false
    }

    private func respond(_ context: ChannelHandlerContext, _ response: ShortResponse) {
        context.writeAndClose(wrapOutboundOut(response.encoded(allocator: context.channel.allocator)))
    }
}
