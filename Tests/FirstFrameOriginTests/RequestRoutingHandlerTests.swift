import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import FirstFrameOrigin

extension OriginTests {
    /// ``RequestRoutingHandler`` alone: HTTP request parts in, one typed ``OriginRequest`` out.
    @Suite struct RoutingHandler {
        private static func send(_ uri: String, to channel: EmbeddedChannel) throws {
            try channel.writeInbound(
                HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: uri))
            )
            try channel.writeInbound(HTTPServerRequestPart.end(nil))
        }

        @Test func aStreamRequestGoesOnWithItsChannelModeAndFaultsOverTheDefaults() throws {
            let channel = try HandlerTesting.channel([
                RequestRoutingHandler(defaults: Behaviour(responseDelayMilliseconds: 50, chunked: true))
            ])
            defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/gop/room7.flv?stall_after=100&chunked=0")
            try channel.writeInbound(HTTPServerRequestPart.head(head))
            try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "a body is ignored")))
            // Nothing goes on before the request has ended.
            #expect(try channel.readInbound(as: OriginRequest.self) == nil)
            try channel.writeInbound(HTTPServerRequestPart.end(nil))
            let request = try #require(try channel.readInbound(as: OriginRequest.self))
            #expect(request.route == .stream)
            #expect(request.channel == ChannelName("room7"))
            #expect(request.mode == .gop)
            #expect(request.behaviour.stallAfterBytes == 100)
            #expect(request.behaviour.responseDelayMilliseconds == 50, "the default, not overridden")
            #expect(!request.behaviour.chunked, "the default, overridden")
            #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        }

        @Test(arguments: [
            ("/", OriginRequest.Route.index),
            ("/stats", .stats),
            ("/sent/room7", .sent),
            ("/live/stream.flv", .stream),
            ("/room7.flv?mode=burst", .stream),
            ("/nothing", .notFound),
            ("/live/no%20spaces.flv", .notFound),
        ])
        func everyPathIsRouted(_ uri: String, _ route: OriginRequest.Route) throws {
            let channel = try HandlerTesting.channel([RequestRoutingHandler(defaults: Behaviour())])
            defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
            try Self.send(uri, to: channel)
            #expect(try channel.readInbound(as: OriginRequest.self)?.route == route)
        }

        @Test func aBadQueryIsAnswered400AndGoesNoFurther() throws {
            let channel = try HandlerTesting.channel([RequestRoutingHandler(defaults: Behaviour())])
            defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
            try Self.send("/live/stream.flv?delay=soon", to: channel)
            let response = try HandlerTesting.outboundText(channel)
            #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
            #expect(response.contains("Connection: close\r\n"))
            #expect(response.hasSuffix("\r\n\r\ninvalid value 'soon' for 'delay'\n"))
            #expect(try channel.readInbound(as: OriginRequest.self) == nil)
            #expect(!channel.isActive, "closed once the answer went out")
        }

        @Test func onlyTheFirstRequestOfAConnectionIsRouted() throws {
            let channel = try HandlerTesting.channel([RequestRoutingHandler(defaults: Behaviour())])
            defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
            try Self.send("/stats", to: channel)
            try Self.send("/", to: channel)
            #expect(try channel.readInbound(as: OriginRequest.self)?.route == .stats)
            #expect(try channel.readInbound(as: OriginRequest.self) == nil)
        }
    }
}
