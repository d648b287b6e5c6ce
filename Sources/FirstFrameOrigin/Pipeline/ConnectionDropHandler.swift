import NIOCore

/// `close_after_ms`: drops the connection that many milliseconds after the stream started (its response head), wherever
/// the stream is: a dropped connection, not an end. Nothing more is flushed, so what the socket had not taken yet is
/// lost and a tag can be cut, as on a connection that really dropped.
///
/// A stream that has already stopped with a close of its own (cut by `close_after`, or ended cleanly) is left to finish
/// its close; a stalled one is dropped.
final class ConnectionDropHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private var timer: Scheduled<Void>?

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let started = event as? StreamStarted, let milliseconds = started.behaviour.closeAfterMilliseconds {
            timer?.cancel()
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(milliseconds))) {
                self.timer = nil
                context.fireUserInboundEventTriggered(StreamStopped.dropped)
                context.close(promise: nil)
            }
        }
        context.triggerUserOutboundEvent(event, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event as? StreamStopped {
        case .cut, .ended: cancel()
        case .stalled, .dropped, nil: break
        }
        context.fireUserInboundEventTriggered(event)
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
