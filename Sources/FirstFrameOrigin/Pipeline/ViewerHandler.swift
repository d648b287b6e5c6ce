import Logging
import NIOCore

/// The connection as one of its channel's viewers, the last handler of the pipeline: joins the channel the request
/// found, starts the response (``StreamStarted``, the head, the FLV preamble) and hands the pacer every tag the
/// channel delivers, after the cached GOP for `gop` and `burst` joins.
///
/// The body is close-delimited like most HTTP-FLV edges (chunked only when asked). Everything after the head goes
/// through the handlers toward the socket: ``TagPacingHandler`` sends the tags at their time, ``CleanEndHandler``
/// ends on a tag boundary, ``BodyFaultHandler`` stalls, cuts and corrupts, and whichever of them stops the stream
/// tells this handler with ``StreamStopped``, so that it leaves the channel.
final class ViewerHandler: ChannelInboundHandler, ChannelViewer {
    typealias InboundIn = ChannelRequest
    typealias OutboundOut = TagFeed

    private enum Phase {
        case awaitingChannel
        case streaming
        /// Stalled (the connection stays open, silent) or closing: no tag follows.
        case stopped
        /// The connection has gone.
        case finished
    }

    private let core: OriginCore
    private var context: ChannelHandlerContext?
    private var phase = Phase.awaitingChannel
    private var request: OriginRequest?
    /// The channel being played, once joined.
    private var channel: LiveChannel?
    private var counters: ViewerCounters?
    private var joined = false

    init(core: OriginCore) {
        self.core = core
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
        // The context holds this handler: drop the reference back so that both can be freed.
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .awaitingChannel = phase else { return }
        let found = unwrapInboundIn(data)
        stream(found.request, on: found.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        core.logger.debug("viewer connection error", metadata: ["error": "\(error)"])
        finish()
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let stopped = event as? StreamStopped { streamStopped(stopped) }
        context.fireUserInboundEventTriggered(event)
    }

    private func stream(_ request: OriginRequest, on channel: LiveChannel) {
        guard let context else { return }
        let mode = request.mode ?? core.configuration.defaultMode
        let counters = ViewerCounters(
            id: core.registry.makeID(),
            path: request.path,
            channel: channel.name.value,
            mode: mode
        )
        // Joined before the head goes out: a channel that ended since it was looked up is a 404, not an empty 200.
        guard
            let (gop, liveEdge) = channel.join(
                id: counters.id,
                viewer: NIOLoopBound(self as any ChannelViewer, eventLoop: context.eventLoop)
            )
        else {
            phase = .finished
            let response = ShortResponse.channelEnded(request).encoded(allocator: context.channel.allocator)
            context.writeAndClose(wrapOutboundOut(.part(.raw(response))))
            return
        }
        joined = true
        self.request = request
        self.channel = channel
        self.counters = counters
        core.registry.add(counters)
        phase = .streaming

        let behaviour = request.behaviour
        // A live join starts at the live edge; a gop or burst join at its cached GOP, when there is one.
        let start = mode == .live ? liveEdge : gop.first?.timestamp ?? liveEdge
        let started = StreamStarted(
            behaviour: behaviour,
            viewer: counters,
            sentLog: channel.sentLog,
            timestamp: start,
            // Nothing cached yet (the channel has not reached its first keyframe): a gop or burst join waits for
            // it, as live does.
            waitsForKeyframe: mode == .live ? behaviour.waitForKeyframe : gop.isEmpty,
            catchUpSpanLimit: UInt32(2 * channel.program.configuration.gopSeconds * 1000),
            endsWithEndOfSequence: channel.program.videoCodec == "h264"
        )
        context.triggerUserOutboundEvent(started, promise: nil)
        let framing = behaviour.chunked ? "Transfer-Encoding: chunked\r\n" : ""
        let head =
            "HTTP/1.1 200 OK\r\nServer: FirstFrameOrigin\r\nContent-Type: video/x-flv\r\n"
            + "Cache-Control: no-cache\r\n\(framing)Connection: close\r\n\r\n"
        context.write(wrapOutboundOut(.part(.raw(context.channel.allocator.buffer(string: head)))), promise: nil)
        context.write(wrapOutboundOut(.part(.body(BodyBytes(channel.preamble(timestamp: start))))), promise: nil)
        // An injected stall or close inside the preamble has already ended the stream. The cached GOP is never
        // dropped for backlog: it is the point of these modes. It goes out as fast as the mode and the connection
        // allow; live tags queue behind it until it has drained.
        if mode != .live, case .streaming = phase, !gop.isEmpty {
            let speed = mode == .gop ? Double.infinity : behaviour.burstSpeed ?? core.configuration.burstSpeed
            context.write(wrapOutboundOut(.catchUp(gop, speed: speed)), promise: nil)
        }
        context.flush()
    }

    func deliver(_ tags: [EmittedTag]) {
        guard case .streaming = phase, let context else { return }
        context.write(wrapOutboundOut(.live(tags)), promise: nil)
    }

    func channelEnded() {
        guard case .streaming = phase, let context else { return }
        context.write(wrapOutboundOut(.part(.end)), promise: nil)
    }

    private func streamStopped(_ reason: StreamStopped) {
        if case .streaming = phase { phase = .stopped }
        leaveChannel()
        // `end_channel=1`: the channel ends with this response, for every viewer.
        if reason == .ended, request?.behaviour.endsChannel == true, let channel {
            core.channels.end(channel.name)
        }
    }

    private func leaveChannel() {
        guard joined, let counters else { return }
        joined = false
        channel?.leave(id: counters.id)
    }

    private func finish() {
        leaveChannel()
        phase = .finished
        if let counters {
            core.registry.remove(counters)
            self.counters = nil
        }
    }
}
