import FirstFrameNetwork
import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import FirstFrameOrigin

extension OriginTests {
    /// ``ViewerHandler`` alone: it joins the channel, starts the response and feeds the pacer; a stop makes it leave.
    @Suite struct Viewer {
        /// A viewer handler over a fresh core on `loop`, behind a recorder of the events it sends toward the socket.
        private struct Rig {
            let loop = EmbeddedEventLoop()
            let core: OriginCore
            let events = OutboundEventRecorder()
            let handler: ViewerHandler
            let channel: EmbeddedChannel

            init() throws {
                // A burst speed of its own: a burst join without `speed=` must take it from here.
                core = try HandlerTesting.core(on: loop, burstSpeed: 6)
                handler = ViewerHandler(core: core)
                channel = EmbeddedChannel(loop: loop)
                try channel.pipeline.syncOperations.addHandlers([events, handler])
                try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
            }

            var standard: LiveChannel { core.channels.standard }

            func play(_ uri: String) throws {
                try channel.writeInbound(ChannelRequest(request: try OriginRequest(uri: uri), channel: standard))
            }

            func feeds() throws -> [TagFeed] { try HandlerTesting.outbound(channel, as: TagFeed.self) }

            /// Runs the `stream` channel's clock until it has cached a GOP (its first keyframe emitted).
            func runClockPastTheFirstKeyframe() throws {
                let keyframes = standard.program.media.filter(\.isKeyframe)
                let keyframe = try #require(keyframes.first).timestamp
                standard.start()
                while standard.channelTime <= UInt64(keyframe) + 5 { usleep(2000) }
                loop.run()
            }

            func finish() {
                standard.stop()
                _ = try? channel.finish(acceptAlreadyClosed: true)
            }
        }

        @Test func aLiveJoinStartsTheStreamAndForwardsWhatTheChannelDelivers() throws {
            let rig = try Rig()
            defer { rig.finish() }
            try rig.play("/live/stream.flv?chunked=1&end_after_ms=900")
            let started = try #require(rig.events.started.first)
            #expect(started.behaviour == Behaviour(chunked: true, endAfterMilliseconds: 900))
            #expect(started.timestamp == 0 && started.waitsForKeyframe)
            #expect(started.catchUpSpanLimit == 2000, "two GOPs of a second")
            #expect(started.endsWithEndOfSequence == (rig.standard.program.videoCodec == "h264"))
            #expect(started.viewer.mode == .live && started.viewer.path == "/live/stream.flv")
            #expect(started.sentLog == nil)

            let feeds = try rig.feeds()
            #expect(feeds.count == 2, "the head and the preamble: no GOP for a live join")
            guard case .part(.raw(let head)) = feeds.first, case .part(.body(let preamble)) = feeds.last else {
                Issue.record("\(feeds)")
                return
            }
            #expect(
                String(buffer: head)
                    == "HTTP/1.1 200 OK\r\nServer: FirstFrameOrigin\r\nContent-Type: video/x-flv\r\n"
                    + "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            )
            #expect(preamble.bytes == rig.standard.preamble(timestamp: 0) && preamble.tag == nil)
            #expect(rig.standard.viewerCount == 1)
            #expect(rig.core.stats().activeViewers == 1)

            rig.handler.deliver([HandlerTesting.tag(40), HandlerTesting.tag(80, key: true)])
            rig.handler.channelEnded()
            rig.channel.flush()
            let later = try rig.feeds()
            guard later.count == 2, case .live(let tags) = later[0], case .part(.end) = later[1] else {
                Issue.record("\(later)")
                return
            }
            #expect(tags.map(\.timestamp) == [40, 80])
        }

        @Test(arguments: [
            ("/gop/stream.flv", Double.infinity), ("/burst/stream.flv", 6), ("/burst/stream.flv?speed=9", 9),
        ])
        func aGopOrBurstJoinSendsTheCachedGOPAtItsSpeed(_ uri: String, _ speed: Double) throws {
            let rig = try Rig()
            defer { rig.finish() }
            try rig.runClockPastTheFirstKeyframe()
            try rig.play(uri)
            let started = try #require(rig.events.started.first)
            #expect(!started.waitsForKeyframe)
            let feeds = try rig.feeds()
            guard feeds.count == 3, case .part(.body(let preamble)) = feeds[1],
                case .catchUp(let gop, let sent) = feeds[2]
            else {
                Issue.record("\(feeds)")
                return
            }
            let first = try #require(gop.first)
            #expect(first.isKeyframe)
            #expect(started.timestamp == first.timestamp, "the sequence headers are stamped with the GOP's start")
            #expect(preamble.bytes == rig.standard.preamble(timestamp: first.timestamp))
            #expect(sent == speed)
        }

        @Test func aGopJoinBeforeTheFirstKeyframeWaitsForItAsLiveDoes() throws {
            let rig = try Rig()
            defer { rig.finish() }
            try rig.play("/gop/stream.flv")
            #expect(rig.events.started.first?.waitsForKeyframe == true)
            #expect(try rig.feeds().count == 2, "no GOP to catch up with")
        }

        @Test func aStopInsideThePreambleSendsNoGOP() throws {
            let rig = try Rig()
            defer { rig.finish() }
            try rig.runClockPastTheFirstKeyframe()
            try rig.channel.pipeline.syncOperations.addHandler(StopAtFirstBody(), position: .first)
            try rig.play("/gop/stream.flv")
            #expect(try rig.feeds().count == 2)
            #expect(rig.standard.viewerCount == 0, "left the channel")
        }

        @Test func aStopLeavesTheChannelAndTheConnectionsEndUnregistersTheViewer() throws {
            let rig = try Rig()
            defer { rig.finish() }
            try rig.play("/live/stream.flv")
            _ = try rig.feeds()
            rig.channel.pipeline.fireUserInboundEventTriggered(StreamStopped.stalled)
            #expect(rig.standard.viewerCount == 0)
            rig.handler.deliver([HandlerTesting.tag(40, key: true)])
            rig.channel.flush()
            #expect(try rig.feeds().isEmpty, "a stopped stream sends nothing more")
            #expect(rig.core.stats().activeViewers == 1, "a stalled connection is still open")
            try rig.channel.close().wait()
            #expect(rig.core.stats().activeViewers == 0)
            #expect(rig.core.stats().totalViewers == 1)
        }

        @Test(arguments: [false, true])
        func aCleanEndEndsTheChannelOnlyWithEndChannel(_ endsChannel: Bool) throws {
            let rig = try Rig()
            defer { rig.finish() }
            try rig.play("/live/stream.flv?end_after_ms=100" + (endsChannel ? "&end_channel=1" : ""))
            rig.channel.pipeline.fireUserInboundEventTriggered(StreamStopped.ended)
            #expect(rig.standard.hasEnded == endsChannel)
        }

        @Test func aChannelThatEndedBeforeTheJoinIs404() throws {
            let rig = try Rig()
            defer { rig.finish() }
            rig.standard.end()
            try rig.play("/live/stream.flv")
            #expect(rig.events.started.isEmpty)
            let feeds = try rig.feeds()
            guard feeds.count == 1, case .part(.raw(let response)) = feeds[0] else {
                Issue.record("\(feeds)")
                return
            }
            #expect(String(buffer: response).hasPrefix("HTTP/1.1 404 Not Found\r\n"))
            #expect(String(buffer: response).hasSuffix("channel ended: stream\n"))
            #expect(!rig.channel.isActive)
            #expect(rig.core.stats().totalViewers == 0)
        }
    }
}

/// Stops the stream at its first body write, as a byte limit inside the preamble does.
private final class StopAtFirstBody: ChannelOutboundHandler {
    typealias OutboundIn = TagFeed
    typealias OutboundOut = TagFeed
    private var stopped = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        if !stopped, case .part(.body) = unwrapOutboundIn(data) {
            stopped = true
            context.fireUserInboundEventTriggered(StreamStopped.cut)
        }
    }
}
