import NIOCore

/// `delay=`: holds a stream request back for the injected delay before anything answers it, so that the first byte
/// of the response, whatever it turns out to be, leaves that much after the request: a slow edge or origin.
final class ResponseDelayHandler: ChannelInboundHandler {
    typealias InboundIn = OriginRequest
    typealias InboundOut = OriginRequest

    /// The held request's release; cancelled when the client goes first.
    private var timer: Scheduled<Void>?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let delay = unwrapInboundIn(data).behaviour.responseDelayMilliseconds
        guard delay > 0 else {
            context.fireChannelRead(data)
            return
        }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(delay))) {
            self.timer = nil
            context.fireChannelRead(data)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancel()
    }

    private func cancel() {
        timer?.cancel()
        timer = nil
    }
}
