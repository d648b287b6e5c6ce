import NIOCore

/// Ends a stream cleanly, as when a broadcast stops: at `end_after_ms` of media, or at the `.end` that
/// ``ViewerHandler`` writes when its channel ends.
///
/// Every tag is written whole, so between two tags the body is on a tag boundary, and that is where it ends: after
/// the last whole tag, then (H.264) the AVC end-of-sequence tag that FFmpeg's FLV muxer writes in its trailer, then
/// ``ResponsePart/end`` (the final chunk when chunked), and the close once all of it has gone out. The tag that
/// reaches `end_after_ms` (counted in tag timestamps from the first media tag) is not sent. Before the close it
/// fires ``StreamStopped/ended``: the viewer leaves its channel (and ends it, with `end_channel=1`).
final class CleanEndHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny
    typealias OutboundIn = ResponsePart
    typealias OutboundOut = ResponsePart

    private enum Phase {
        case awaitingStart
        case streaming
        case stopped
    }

    private var phase = Phase.awaitingStart
    /// `end_after_ms`.
    private var limit: Int?
    private var endsWithEndOfSequence = false
    /// Timestamp of the first media tag written: `end_after_ms` counts from it.
    private var mediaStart: UInt32?
    /// Timestamp of the latest tag written (the sequence headers' before any frame): the end-of-sequence tag
    /// carries it.
    private var lastTimestamp: UInt32 = 0

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let started = event as? StreamStarted, case .awaitingStart = phase {
            phase = .streaming
            limit = started.behaviour.endAfterMilliseconds
            endsWithEndOfSequence = started.endsWithEndOfSequence
            lastTimestamp = started.timestamp
        }
        context.triggerUserOutboundEvent(event, promise: promise)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .body(let body):
            guard let tag = body.tag, case .streaming = phase else { break }
            if let limit, Int64(tag.timestamp) - Int64(mediaStart ?? tag.timestamp) >= Int64(limit) {
                promise?.fail(ChannelError.ioOnClosedChannel)
                endCleanly(context)
                return
            }
            if mediaStart == nil { mediaStart = tag.timestamp }
            lastTimestamp = tag.timestamp
        case .end:
            guard case .streaming = phase else {
                promise?.fail(ChannelError.ioOnClosedChannel)
                return
            }
            endCleanly(context, promise: promise)
            return
        case .raw:
            break
        }
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is StreamStopped { phase = .stopped }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        phase = .stopped
        context.fireChannelInactive()
    }

    private func endCleanly(_ context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil) {
        if endsWithEndOfSequence {
            let marker = FLVTag.avcEndOfSequence(timestamp: lastTimestamp).encoded()
            context.write(
                wrapOutboundOut(.body(BodyBytes(context.channel.allocator.buffer(bytes: marker)))),
                promise: nil
            )
            // A byte limit inside the marker has already cut the stream there.
            guard case .streaming = phase else {
                promise?.fail(ChannelError.ioOnClosedChannel)
                return
            }
        }
        phase = .stopped
        context.fireUserInboundEventTriggered(StreamStopped.ended)
        context.writeAndClose(wrapOutboundOut(.end), promise: promise)
    }
}
