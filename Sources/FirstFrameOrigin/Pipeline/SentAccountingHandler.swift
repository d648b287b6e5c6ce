import NIOCore

/// Records what a stream's body sent, where the faults have had their say (between ``BodyFaultHandler`` and the
/// framing): the viewer's byte count and the instants of its first body write and first keyframe, and, when the
/// origin keeps a sent log, each media tag once NIO has handed it to the kernel.
///
/// A tag is logged only once written: a drop loses what NIO had not written yet, unlogged. One that a fault cut or
/// altered is logged `complete: false`; one cut to nothing is not logged.
final class SentAccountingHandler: ChannelOutboundHandler {
    typealias OutboundIn = ResponsePart
    typealias OutboundOut = ResponsePart

    private var viewer: ViewerCounters?
    private var sentLog: SentLog?
    private var wroteBody = false

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let started = event as? StreamStarted {
            viewer = started.viewer
            sentLog = started.sentLog
        }
        context.triggerUserOutboundEvent(event, promise: promise)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .body(let body) = unwrapOutboundIn(data), let viewer else {
            context.write(data, promise: promise)
            return
        }
        if !wroteBody {
            wroteBody = true
            viewer.bodyWritten()
        }
        if body.tag?.isKeyframe == true { viewer.keyframeWritten() }
        let count = body.bytes.readableBytes
        viewer.bytesSent.wrappingAdd(count, ordering: .relaxed)
        guard let log = sentLog, let packet = body.tag?.packet, count > 0 else {
            context.write(data, promise: promise)
            return
        }
        let entry = SentTag(connection: viewer.id, complete: body.intact, packet: packet)
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenSuccess { log.append(entry) }
        written.futureResult.cascade(to: promise)
        context.write(data, promise: written)
    }
}
