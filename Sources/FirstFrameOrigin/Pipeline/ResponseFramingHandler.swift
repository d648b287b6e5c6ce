import NIOCore

/// The last handler before the socket: turns response parts into bytes. A stream's body goes out as it is,
/// close-delimited like most HTTP-FLV edges, or with `chunked=1` (``StreamStarted/behaviour``) one HTTP/1.1 chunk per
/// part and the final zero-length chunk at ``ResponsePart/end``. A body cut short by a fault has no final chunk:
/// the stream is cut, as by a failing edge.
final class ResponseFramingHandler: ChannelOutboundHandler {
    typealias OutboundIn = ResponsePart
    typealias OutboundOut = ByteBuffer

    private var chunked = false

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let started = event as? StreamStarted { chunked = started.behaviour.chunked }
        context.triggerUserOutboundEvent(event, promise: promise)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .raw(let bytes):
            context.write(wrapOutboundOut(bytes), promise: promise)
        case .body(let body) where chunked && body.bytes.readableBytes > 0:
            let size = context.channel.allocator.buffer(string: String(body.bytes.readableBytes, radix: 16) + "\r\n")
            context.write(wrapOutboundOut(size), promise: nil)
            context.write(wrapOutboundOut(body.bytes), promise: promise)
            context.write(wrapOutboundOut(context.channel.allocator.buffer(string: "\r\n")), promise: nil)
        case .body(let body):
            // An empty part is written as nothing (a zero-length chunk would end the body), in order, so that its
            // promise completes after everything before it.
            context.write(wrapOutboundOut(body.bytes), promise: promise)
        case .end:
            let end = chunked ? "0\r\n\r\n" : ""
            context.write(wrapOutboundOut(context.channel.allocator.buffer(string: end)), promise: promise)
        }
    }
}
