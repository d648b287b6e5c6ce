import NIOCore
import NIOHTTP1

/// A whole response that is not a stream: a status, a short text body with its `Content-Length`, and
/// `Connection: close`. Every answer but a stream is one: a malformed query, an injected status or redirect, a
/// channel that has ended, the index, `/stats` and `/sent/NAME`.
///
/// Written by hand, like the stream's head, so that the bytes on the wire are exactly the ones a test expects.
struct ShortResponse: Equatable {
    var status: Int
    var body: String
    var contentType = "text/plain"
    /// Whole header lines without their CRLF (`Location: …`).
    var extraHeaders: [String] = []

    /// The 404 for a channel that has ended (or `ended=1` says so): named by channel, or by path.
    static func channelEnded(_ request: OriginRequest) -> ShortResponse {
        ShortResponse(status: 404, body: "channel ended: \(request.channel?.value ?? request.path)\n")
    }

    func encoded(allocator: ByteBufferAllocator) -> ByteBuffer {
        let bodyBytes = Array(body.utf8)
        let reason = HTTPResponseStatus(statusCode: status).reasonPhrase
        var head =
            "HTTP/1.1 \(status) \(reason.isEmpty ? "Status" : reason)\r\nServer: FirstFrameOrigin\r\nContent-Type: \(contentType)\r\n"
        head += "Content-Length: \(bodyBytes.count)\r\nConnection: close\r\n"
        for header in extraHeaders { head += header + "\r\n" }
        head += "\r\n"
        var buffer = allocator.buffer(capacity: head.utf8.count + bodyBytes.count)
        buffer.writeString(head)
        buffer.writeBytes(bodyBytes)
        return buffer
    }
}

extension ChannelHandlerContext {
    /// Writes and flushes `data`, then closes the connection once it has gone out (or failed to): the last write
    /// of every response. Closing at once would throw away whatever the socket had not taken yet.
    func writeAndClose(_ data: NIOAny, promise: EventLoopPromise<Void>? = nil) {
        let written = writeAndFlush(data)
        written.cascade(to: promise)
        written.assumeIsolated().whenComplete { _ in self.close(promise: nil) }
    }
}
