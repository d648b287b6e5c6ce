import NIOCore

/// `status=`, `redirects=`, `redirect=` (with `redirect_status=`) and `ended=1`: answers a stream request with the
/// injected status, redirect or "channel ended" 404 instead of the stream, first of them in that order. Any other
/// stream request goes on to be played.
final class InjectedResponseHandler: ChannelInboundHandler {
    typealias InboundIn = OriginRequest
    typealias InboundOut = OriginRequest
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = unwrapInboundIn(data)
        guard let response = Self.response(to: request) else {
            context.fireChannelRead(data)
            return
        }
        context.writeAndClose(wrapOutboundOut(response.encoded(allocator: context.channel.allocator)))
    }

    /// What the request's behaviour answers instead of the stream, if anything.
    static func response(to request: OriginRequest) -> ShortResponse? {
        let behaviour = request.behaviour
        if let status = behaviour.status {
            return ShortResponse(status: status, body: "injected status \(status)\n")
        } else if behaviour.redirectHops > 0 {
            // The same request with one hop fewer, so a chain counts down to the stream.
            return redirect(to: request.redirectTargetForNextHop, status: behaviour.redirectStatus)
        } else if let target = behaviour.redirectTarget {
            return redirect(to: target, status: behaviour.redirectStatus)
        } else if behaviour.channelEnded {
            return .channelEnded(request)
        }
        return nil
    }

    private static func redirect(to location: String, status: Int) -> ShortResponse {
        ShortResponse(status: status, body: "see \(location)\n", extraHeaders: ["Location: \(location)"])
    }
}
