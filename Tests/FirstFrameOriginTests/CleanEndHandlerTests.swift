import NIOCore
import NIOEmbedded
import Testing

@testable import FirstFrameOrigin

extension OriginTests {
    /// ``CleanEndHandler`` alone: where `end_after_ms` and a channel's end stop the body, and what follows.
    @Suite struct CleanEnd {
        private struct Rig {
            let events = InboundEventRecorder()
            let channel: EmbeddedChannel

            init(_ started: StreamStarted, nearerTheSocket: [any ChannelHandler] = []) throws {
                channel = try HandlerTesting.channel(nearerTheSocket + [CleanEndHandler(), events])
                channel.pipeline.triggerUserOutboundEvent(started, promise: nil)
            }

            func send(_ timestamps: [UInt32]) throws {
                for timestamp in timestamps {
                    try channel.writeOutbound(ResponsePart.body(BodyBytes(tag: HandlerTesting.tag(timestamp))))
                }
            }

            func parts() throws -> [ResponsePart] { try HandlerTesting.outbound(channel, as: ResponsePart.self) }

            func finish() { _ = try? channel.finish(acceptAlreadyClosed: true) }
        }

        private static func marker(_ timestamp: UInt32) -> String {
            String(decoding: FLVTag.avcEndOfSequence(timestamp: timestamp).encoded(), as: UTF8.self)
        }

        @Test func endAfterMillisecondsEndsBeforeTheTagThatReachesItThenMarksTheEnd() throws {
            let rig = try Rig(HandlerTesting.started(Behaviour(endAfterMilliseconds: 100)))
            defer { rig.finish() }
            try rig.channel.writeOutbound(ResponsePart.body(BodyBytes(ByteBuffer(string: "preamble"))))
            try rig.send([1000, 1040, 1080])
            #expect(rig.channel.isActive)
            try? rig.send([1100, 1140])
            let parts = try rig.parts()
            #expect(
                parts.compactMap { $0.body?.tag?.timestamp } == [1000, 1040, 1080],
                "counted from the first media tag"
            )
            #expect(parts.map(\.text).suffix(2) == [Self.marker(1080), "<end>"])
            #expect(parts.first?.text == "preamble")
            #expect(rig.events.stops == [.ended])
            #expect(!rig.channel.isActive, "closed once the end went out")
        }

        @Test func theChannelsEndMarksTheEndAtTheLatestTimestamp() throws {
            let rig = try Rig(HandlerTesting.started(timestamp: 500))
            defer { rig.finish() }
            try rig.channel.writeOutbound(ResponsePart.end)
            #expect(
                try rig.parts().map(\.text) == [Self.marker(500), "<end>"],
                "before any frame: the preamble's time"
            )
            #expect(rig.events.stops == [.ended])
            #expect(!rig.channel.isActive)
        }

        @Test func withoutH264ThereIsNoEndOfSequenceTag() throws {
            let rig = try Rig(HandlerTesting.started(Behaviour(endAfterMilliseconds: 0), endsWithEndOfSequence: false))
            defer { rig.finish() }
            try? rig.send([0])
            #expect(try rig.parts().map(\.text) == ["<end>"], "an end at 0 ms sends no media")
        }

        @Test func withoutALimitTagsJustPass() throws {
            let rig = try Rig(HandlerTesting.started())
            defer { rig.finish() }
            try rig.send([0, 40_000, 80_000])
            #expect(try rig.parts().compactMap { $0.body?.tag?.timestamp } == [0, 40_000, 80_000])
            #expect(rig.events.stops.isEmpty && rig.channel.isActive)
        }

        @Test func aByteLimitInsideTheMarkerCutsTheEndThere() throws {
            let rig = try Rig(HandlerTesting.started(), nearerTheSocket: [CutAtMarker()])
            defer { rig.finish() }
            try rig.send([0])
            _ = try? rig.channel.writeOutbound(ResponsePart.end)
            let parts = try rig.parts()
            #expect(parts.map(\.text).last == Self.marker(0), "no end after a cut marker")
            #expect(rig.events.stops == [.cut])
        }

        @Test func aStoppedStreamDoesNotEnd() throws {
            let rig = try Rig(HandlerTesting.started())
            defer { rig.finish() }
            rig.channel.pipeline.fireUserInboundEventTriggered(StreamStopped.stalled)
            _ = try? rig.channel.writeOutbound(ResponsePart.end)
            #expect(try rig.parts().isEmpty)
            #expect(rig.channel.isActive, "a stall keeps the connection open")
        }
    }
}

/// Passes everything on, and stops the stream at the first body part that is no media tag (the end-of-sequence
/// marker, here), as a byte limit inside it does.
private final class CutAtMarker: ChannelOutboundHandler {
    typealias OutboundIn = ResponsePart
    typealias OutboundOut = ResponsePart

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        if let body = unwrapOutboundIn(data).body, body.tag == nil {
            context.fireUserInboundEventTriggered(StreamStopped.cut)
        }
    }
}
