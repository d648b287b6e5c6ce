import NIOCore
import NIOEmbedded
import Testing

@testable import FirstFrameOrigin

extension OriginTests {
    /// ``ResponseDelayHandler`` alone, on the embedded loop's clock.
    @Suite struct DelayHandler {
        @Test func aDelayedRequestGoesOnAfterExactlyItsDelay() throws {
            let channel = try HandlerTesting.channel([ResponseDelayHandler()])
            defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
            let request = try OriginRequest(uri: "/live/stream.flv?delay=300")
            try channel.writeInbound(request)
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(299))
            #expect(try channel.readInbound(as: OriginRequest.self) == nil)
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
            #expect(try channel.readInbound(as: OriginRequest.self) == request)
        }

        @Test func anUndelayedRequestGoesOnAtOnce() throws {
            let channel = try HandlerTesting.channel([ResponseDelayHandler()])
            defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
            let request = try OriginRequest(uri: "/live/stream.flv")
            try channel.writeInbound(request)
            #expect(try channel.readInbound(as: OriginRequest.self) == request)
        }

        @Test func aClientThatGoesDuringTheDelayIsNeverAnswered() throws {
            let channel = try HandlerTesting.channel([ResponseDelayHandler()])
            defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
            try channel.writeInbound(try OriginRequest(uri: "/live/stream.flv?delay=300"))
            // A socket that closes tells the pipeline at once; its handlers are removed only later.
            channel.pipeline.fireChannelInactive()
            channel.embeddedEventLoop.advanceTime(by: .seconds(1))
            #expect(try channel.readInbound(as: OriginRequest.self) == nil)
        }
    }
}
