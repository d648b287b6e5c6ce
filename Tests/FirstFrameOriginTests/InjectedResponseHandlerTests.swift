import NIOCore
import NIOEmbedded
import Testing

@testable import FirstFrameOrigin

extension OriginTests {
    /// ``InjectedResponseHandler`` alone: each injected answer replaces the stream; a plain request goes on.
    @Suite struct InjectedResponses {
        /// What the handler writes for `uri` (empty when it passes the request on), and whether it closed.
        private static func answer(_ uri: String) throws -> (response: String, passedOn: OriginRequest?, closed: Bool) {
            let channel = try HandlerTesting.channel([InjectedResponseHandler()])
            defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
            try channel.writeInbound(try OriginRequest(uri: uri))
            let response = try HandlerTesting.outboundText(channel)
            return (response, try channel.readInbound(as: OriginRequest.self), !channel.isActive)
        }

        @Test func anInjectedStatusIsTheWholeAnswer() throws {
            let (response, passedOn, closed) = try Self.answer("/live/stream.flv?status=503&redirect=/elsewhere")
            #expect(response.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
            #expect(response.hasSuffix("\r\n\r\ninjected status 503\n"))
            #expect(!response.contains("Location"), "a status comes before a redirect")
            #expect(passedOn == nil && closed)
        }

        @Test func anUnknownStatusStillHasAReasonPhrase() throws {
            let line = try Self.answer("/live/stream.flv?status=599").response.components(separatedBy: "\r\n")[0]
            #expect(line.hasPrefix("HTTP/1.1 599 ") && line.count > "HTTP/1.1 599 ".count, "\(line)")
        }

        @Test func aRedirectChainCountsDownRepeatingTheQuery() throws {
            let (response, _, closed) = try Self.answer("/gop/room7.flv?redirects=2&stall_after=10")
            #expect(response.hasPrefix("HTTP/1.1 302 Found\r\n"))
            #expect(response.contains("\r\nLocation: /gop/room7.flv?stall_after=10&redirects=1\r\n"))
            #expect(closed)
        }

        @Test func aRedirectGoesWhereItSaysWithItsStatus() throws {
            let (response, _, _) = try Self.answer("/live/stream.flv?redirect=/gop/stream.flv&redirect_status=307")
            #expect(response.hasPrefix("HTTP/1.1 307 Temporary Redirect\r\n"))
            #expect(response.contains("\r\nLocation: /gop/stream.flv\r\n"))
            #expect(response.hasSuffix("see /gop/stream.flv\n"))
        }

        @Test func endedIsTheChannelEnded404() throws {
            let (response, passedOn, _) = try Self.answer("/live/room7.flv?ended=1")
            #expect(response.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
            #expect(response.hasSuffix("\r\n\r\nchannel ended: room7\n"))
            #expect(passedOn == nil)
        }

        @Test func aRequestWithNothingInjectedGoesOn() throws {
            let (response, passedOn, closed) = try Self.answer("/live/room7.flv?stall_after=10&delay=5")
            #expect(response.isEmpty && !closed)
            #expect(passedOn?.channel == ChannelName("room7"))
        }
    }
}
