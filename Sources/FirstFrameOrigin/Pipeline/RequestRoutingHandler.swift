import NIOCore
import NIOHTTP1

/// The first handler after HTTP decoding: turns the request into an ``OriginRequest`` (its typed route, channel,
/// join mode and injected behaviour over the origin's defaults) and passes that on once the request has ended.
///
/// A query that does not parse is answered 400 here, naming the parameter. One request per connection: every
/// response closes it, so anything the client sends after its first request is ignored.
final class RequestRoutingHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = OriginRequest
    typealias OutboundOut = ByteBuffer

    private enum State {
        case awaitingHead
        /// Parsed; passed on at the request's end (a body, if any, is ignored).
        case awaitingEnd(OriginRequest)
        case done
    }

    /// ``OriginConfiguration/defaultBehaviour``: what the query overrides.
    private let defaults: Behaviour
    private var state = State.awaitingHead

    init(defaults: Behaviour) {
        self.defaults = defaults
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (state, unwrapInboundIn(data)) {
        case (.awaitingHead, .head(let head)):
            do {
                state = .awaitingEnd(try OriginRequest(uri: head.uri, defaults: defaults))
            } catch {
                state = .done
                let response = ShortResponse(status: 400, body: "\(error)\n")
                context.writeAndClose(wrapOutboundOut(response.encoded(allocator: context.channel.allocator)))
            }
        case (.awaitingEnd(let request), .end):
            state = .done
            context.fireChannelRead(wrapInboundOut(request))
        default:
            break
        }
    }
}
