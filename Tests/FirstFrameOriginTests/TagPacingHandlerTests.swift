import NIOCore
import NIOEmbedded
import Testing

@testable import FirstFrameOrigin

extension OriginTests {
    /// ``TagPacingHandler`` alone, on the embedded loop's clock: what goes out when, and what is dropped.
    @Suite struct Pacing {
        private struct Rig {
            let viewer = HandlerTesting.viewer()
            let channel: EmbeddedChannel

            init(
                waitsForKeyframe: Bool = false,
                catchUpSpanLimit: UInt32 = 4000,
                nearerTheSocket: [any ChannelHandler] = []
            )
                throws
            {
                channel = try HandlerTesting.channel(nearerTheSocket + [TagPacingHandler(), InboundEventRecorder()])
                channel.pipeline.triggerUserOutboundEvent(
                    HandlerTesting.started(
                        viewer: viewer,
                        waitsForKeyframe: waitsForKeyframe,
                        catchUpSpanLimit: catchUpSpanLimit
                    ),
                    promise: nil
                )
            }

            func feed(_ feed: TagFeed) throws { try channel.writeOutbound(feed) }

            /// The timestamps of the tags sent since the last call.
            func sent() throws -> [UInt32] {
                try HandlerTesting.outbound(channel, as: ResponsePart.self).compactMap { $0.body?.tag?.timestamp }
            }

            func advance(_ milliseconds: Int64) {
                channel.embeddedEventLoop.advanceTime(by: .milliseconds(milliseconds))
            }

            func finish() { _ = try? channel.finish(acceptAlreadyClosed: true) }
        }

        private static func tags(_ timestamps: [UInt32], keyframes: Set<UInt32> = [0]) -> [EmittedTag] {
            timestamps.map { HandlerTesting.tag($0, key: keyframes.contains($0)) }
        }

        @Test func aGopCatchUpGoesOutAtOnceInOrder() throws {
            let rig = try Rig()
            defer { rig.finish() }
            try rig.feed(.catchUp(Self.tags([0, 40, 80, 120]), speed: .infinity))
            #expect(try rig.sent() == [0, 40, 80, 120])
            // At the live edge: live tags go straight out.
            try rig.feed(.live(Self.tags([160])))
            #expect(try rig.sent() == [160])
        }

        @Test func aBurstCatchUpRunsAtItsSpeedWithLiveTagsQueuedBehindIt() throws {
            let rig = try Rig()
            defer { rig.finish() }
            try rig.feed(.catchUp(Self.tags([0, 40, 80, 120]), speed: 2))
            #expect(try rig.sent() == [0])
            try rig.feed(.live(Self.tags([160])))
            #expect(try rig.sent().isEmpty, "live tags wait behind the catch-up")
            rig.advance(19)
            #expect(try rig.sent().isEmpty)
            rig.advance(1)
            #expect(try rig.sent() == [40], "40 ms of media at 2× takes 20 ms")
            rig.advance(40)
            #expect(try rig.sent() == [80, 120])
            rig.advance(20)
            #expect(try rig.sent() == [160])
            // The queue has run dry: the client is at the live edge.
            try rig.feed(.live(Self.tags([200])))
            #expect(try rig.sent() == [200])
        }

        @Test func aFullConnectionPausesTheCatchUpUntilItDrains() throws {
            let rig = try Rig()
            defer { rig.finish() }
            rig.channel.isWritable = false
            try rig.feed(.catchUp(Self.tags([0, 40, 80]), speed: .infinity))
            #expect(try rig.sent().isEmpty)
            #expect(rig.viewer.tagsDropped.load(ordering: .relaxed) == 0, "a catch-up is paused, never dropped")
            rig.channel.isWritable = true
            rig.channel.pipeline.fireChannelWritabilityChanged()
            #expect(try rig.sent() == [0, 40, 80])
        }

        @Test func aCatchUpThatFallsTwoGOPsBehindSkipsToItsLatestKeyframe() throws {
            let rig = try Rig(catchUpSpanLimit: 100)
            defer { rig.finish() }
            try rig.feed(.catchUp(Self.tags([0, 40]), speed: 2))
            #expect(try rig.sent() == [0])
            rig.advance(10)
            // The queue now spans 120 ms of channel time, over the limit of 100.
            try rig.feed(.live(Self.tags([80, 120, 160], keyframes: [120])))
            #expect(rig.viewer.tagsDropped.load(ordering: .relaxed) == 2, "40 and 80")
            #expect(rig.viewer.dropEvents.load(ordering: .relaxed) == 1)
            // Caught up from the keyframe, its clock restarted there (at 10 ms): 160 is due 20 ms later.
            rig.advance(10)
            #expect(try rig.sent() == [120])
            rig.advance(10)
            #expect(try rig.sent() == [160])
        }

        @Test func aLiveJoinWaitsForAKeyframeWithoutCountingDrops() throws {
            let rig = try Rig(waitsForKeyframe: true)
            defer { rig.finish() }
            try rig.feed(.live(Self.tags([40, 80, 120, 160], keyframes: [120])))
            #expect(try rig.sent() == [120, 160])
            #expect(rig.viewer.tagsDropped.load(ordering: .relaxed) == 0)
        }

        @Test func aClientThatFallsBehindLosesTagsUntilAKeyframeFindsItWritable() throws {
            let rig = try Rig()
            defer { rig.finish() }
            try rig.feed(.live(Self.tags([0, 40])))
            #expect(try rig.sent() == [0, 40])
            rig.channel.isWritable = false
            try rig.feed(.live(Self.tags([80, 120], keyframes: [120])))
            rig.channel.isWritable = true
            try rig.feed(.live(Self.tags([160, 200, 240], keyframes: [200])))
            #expect(try rig.sent() == [200, 240])
            #expect(
                rig.viewer.tagsDropped.load(ordering: .relaxed) == 3,
                "80, 120 (not writable) and 160 (no keyframe)"
            )
            #expect(rig.viewer.dropEvents.load(ordering: .relaxed) == 1)
        }

        @Test func partsPassStraightThrough() throws {
            let rig = try Rig()
            defer { rig.finish() }
            try rig.feed(.part(.raw(ByteBuffer(string: "head"))))
            try rig.feed(.part(.end))
            let parts = try HandlerTesting.outbound(rig.channel, as: ResponsePart.self)
            #expect(parts.map(\.text) == ["head", "<end>"])
        }

        @Test func aStopEmptiesTheQueueAndSendsNothingMore() throws {
            let rig = try Rig()
            defer { rig.finish() }
            try rig.feed(.catchUp(Self.tags([0, 40, 80]), speed: 2))
            #expect(try rig.sent() == [0])
            rig.channel.pipeline.fireUserInboundEventTriggered(StreamStopped.stalled)
            rig.advance(1000)
            try rig.feed(.live(Self.tags([120])))
            #expect(try rig.sent().isEmpty)
        }

        @Test func aStopDuringAWriteHaltsTheCatchUpThere() throws {
            let rig = try Rig(nearerTheSocket: [EndAtTag(40)])
            defer { rig.finish() }
            try rig.feed(.catchUp(Self.tags([0, 40, 80, 120]), speed: .infinity))
            #expect(try rig.sent() == [0, 40])
        }
    }
}

/// Passes the tag stamped `timestamp` on, then ends the stream, as an end or a byte limit at that tag does.
private final class EndAtTag: ChannelOutboundHandler {
    typealias OutboundIn = ResponsePart
    typealias OutboundOut = ResponsePart
    private let timestamp: UInt32

    init(_ timestamp: UInt32) {
        self.timestamp = timestamp
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        if unwrapOutboundIn(data).body?.tag?.timestamp == timestamp {
            context.fireUserInboundEventTriggered(StreamStopped.ended)
        }
    }
}
