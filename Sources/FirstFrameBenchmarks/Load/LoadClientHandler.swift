import FirstFrame
import FirstFrameNetwork
import FirstFrameOrigin
import NIOCore

/// A minimal HTTP-FLV client for load runs: sends one GET, reads the head, then counts tags as they arrive.
final class LoadClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let request: String
    private let startedAt: UInt64
    private let finish: @Sendable (LoadClientResult) -> Void
    private var result = LoadClientResult()
    private var headBuffer: [UInt8] = []
    private var parser = FLVStreamParser()
    private var reported = false

    init(
        host: String,
        port: Int,
        target: String,
        startedAt: UInt64,
        finish: @escaping @Sendable (LoadClientResult) -> Void
    ) {
        self.request =
            "GET \(target) HTTP/1.1\r\nHost: \(host):\(port)\r\nUser-Agent: firstframe-load\r\nAccept: */*\r\n\r\n"
        self.startedAt = startedAt
        self.finish = finish
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: request)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        if result.status == nil {
            headBuffer += bytes
            guard let headLength = HTTPHead.headLength(headBuffer) else { return }
            result.status = HTTPHead.response(Array(headBuffer[..<headLength]))?.status ?? 0
            result.headAfter = MonotonicClock.milliseconds(since: startedAt)
            consume(Array(headBuffer[headLength...]))
            headBuffer = []
        } else {
            consume(bytes)
        }
    }

    private func consume(_ body: [UInt8]) {
        guard result.error == nil else { return }
        result.bodyBytes += body.count
        do {
            for tag in try parser.append(body) where tag.isMedia {
                result.mediaTags += 1
                if tag.isKeyframe && result.firstKeyframeAfter == nil {
                    result.firstKeyframeAfter = MonotonicClock.milliseconds(since: startedAt)
                }
            }
        } catch {
            result.error = "\(error)"
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        report()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if result.error == nil { result.error = "\(error)" }
        context.close(promise: nil)
    }

    /// Reports once, when the connection ends (closed by either side).
    private func report() {
        guard !reported else { return }
        reported = true
        finish(result)
    }
}
