import NIOCore

/// The faults injected into a stream's body bytes: `stall_after` (send that many bytes, then nothing, the connection
/// open), `close_after` (send that many bytes, then close) and `corrupt_at`/`corrupt_len` (invert those bytes).
///
/// Offsets count FLV bytes of the body only: not the head, not chunk framing (this handler sits before
/// ``ResponseFramingHandler``). Only the byte limits cut inside a tag. A part they cut or a corruption touches goes
/// on marked not ``BodyBytes/intact``. Reaching a limit fires ``StreamStopped`` (`.stalled` or `.cut`) while the write
/// that reached it is still under way, so that nothing more is sent; a later part is refused.
final class BodyFaultHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny
    typealias OutboundIn = ResponsePart
    typealias OutboundOut = ResponsePart

    private var behaviour = Behaviour()
    /// Body bytes sent so far.
    private var bodyBytes = 0
    /// A byte limit has been reached.
    private var limitReached = false

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let started = event as? StreamStarted { behaviour = started.behaviour }
        context.triggerUserOutboundEvent(event, promise: promise)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .body(let body) = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        guard !limitReached else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        var buffer = body.bytes
        var intact = body.intact
        let start = bodyBytes
        // The nearer limit wins; a stall and a close at the same offset stall.
        var limit: (bytes: Int, close: Bool)?
        if let stall = behaviour.stallAfterBytes { limit = (stall, false) }
        if let close = behaviour.closeAfterBytes, close < (limit?.bytes ?? .max) { limit = (close, true) }
        var reachedLimit = false
        if let limit, start + buffer.readableBytes >= limit.bytes {
            if start + buffer.readableBytes != limit.bytes { intact = false }
            buffer = buffer.getSlice(at: buffer.readerIndex, length: max(0, limit.bytes - start))!
            reachedLimit = true
        }
        if let corruptAt = behaviour.corruptAtByte {
            let from = max(corruptAt, start)
            let to = min(corruptAt + behaviour.corruptLength, start + buffer.readableBytes)
            if from < to {
                intact = false
                var corrupted = context.channel.allocator.buffer(capacity: buffer.readableBytes)
                corrupted.writeImmutableBuffer(buffer)
                for offset in (from - start)..<(to - start) {
                    let index = corrupted.readerIndex + offset
                    corrupted.setInteger(~corrupted.getInteger(at: index, as: UInt8.self)!, at: index)
                }
                buffer = corrupted
            }
        }
        // A part cut to nothing still goes on (its bytes are no tag the client got), marked so.
        if buffer.readableBytes == 0 { intact = false }
        bodyBytes += buffer.readableBytes
        let part = ResponsePart.body(BodyBytes(bytes: buffer, tag: body.tag, intact: intact))
        guard reachedLimit, let limit else {
            context.write(wrapOutboundOut(part), promise: promise)
            return
        }
        limitReached = true
        context.write(wrapOutboundOut(part), promise: promise)
        context.fireUserInboundEventTriggered(limit.close ? StreamStopped.cut : .stalled)
        if limit.close {
            // What the limit lets through still goes out, chunk framing and all, before the close.
            context.writeAndClose(wrapOutboundOut(.raw(context.channel.allocator.buffer(capacity: 0))))
        } else {
            context.flush()
        }
    }
}
