import FirstFrameNetwork
import NIOCore
import NIOEmbedded
import Testing

@testable import FirstFrameOrigin

extension OriginTests {
    /// ``ChannelLookupHandler`` alone, over a directory on the embedded loop.
    @Suite struct LookupHandler {
        /// Looks up `uri` in a fresh core; returns what went on, what was answered, and whether the connection closed.
        private static func lookUp(
            _ uri: String,
            maximumChannels: Int = 1000,
            distinctPrograms: Int = 4,
            prepare: (OriginCore) -> Void = { _ in }
        ) throws -> (passedOn: ChannelRequest?, response: String, closed: Bool, core: OriginCore) {
            let loop = EmbeddedEventLoop()
            let core = try HandlerTesting.core(
                on: loop,
                maximumChannels: maximumChannels,
                distinctPrograms: distinctPrograms
            )
            prepare(core)
            let channel = EmbeddedChannel(loop: loop)
            try channel.pipeline.syncOperations.addHandler(
                ChannelLookupHandler(channels: core.channels, maximumChannels: maximumChannels)
            )
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
            try channel.writeInbound(try OriginRequest(uri: uri))
            let passedOn = try channel.readInbound(as: ChannelRequest.self)
            let response = try HandlerTesting.outboundText(channel)
            let closed = !channel.isActive
            // Channels made here have a clock queued on the loop: stopped, it schedules nothing more.
            for made in core.channels.channels { made.stop() }
            _ = try? channel.finish(acceptAlreadyClosed: true)
            return (passedOn, response, closed, core)
        }

        @Test func aReadyChannelGoesOnWithTheRequest() throws {
            let (passedOn, response, closed, core) = try Self.lookUp("/gop/stream.flv?stall_after=9")
            let found = try #require(passedOn)
            #expect(found.channel === core.channels.standard)
            #expect(found.request.behaviour.stallAfterBytes == 9)
            #expect(response.isEmpty && !closed)
        }

        @Test func aNewNameIsMadeAndThenGoesOn() throws {
            // With one program every name shares `stream`'s, already made: the new channel is ready at once.
            let (passedOn, response, _, core) = try Self.lookUp("/live/room7.flv", distinctPrograms: 1)
            #expect(passedOn?.channel.name == ChannelName("room7"))
            #expect(core.channels.existingChannel(named: ChannelName("room7")!) != nil)
            #expect(response.isEmpty)
        }

        @Test func anEndedChannelIs404() throws {
            let (passedOn, response, closed, _) = try Self.lookUp("/live/room7.flv") { core in
                core.channels.end(ChannelName("room7")!)
            }
            #expect(passedOn == nil && closed)
            #expect(response.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
            #expect(response.hasSuffix("\r\n\r\nchannel ended: room7\n"))
        }

        @Test func aNewNamePastTheMaximumIs503() throws {
            let (passedOn, response, closed, core) = try Self.lookUp("/live/room7.flv", maximumChannels: 1)
            #expect(passedOn == nil && closed)
            #expect(response.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
            #expect(response.hasSuffix("\r\n\r\nthe origin has its maximum of 1 channels\n"))
            #expect(core.channels.channels.map(\.name) == [.standard])
        }
    }
}

extension OriginTests {
    /// ``ChannelLookupHandler`` waiting for a channel being made (a directory stand-in answers `.pending`).
    @Suite struct LookupHandlerWaiting {
        private struct Rig {
            let loop = EmbeddedEventLoop()
            let core: OriginCore
            let made: EventLoopPromise<LiveChannel>
            let channel: EmbeddedChannel

            init() throws {
                core = try HandlerTesting.core(on: loop)
                let made = loop.makePromise(of: LiveChannel.self)
                self.made = made
                channel = EmbeddedChannel(loop: loop)
                try channel.pipeline.syncOperations.addHandler(
                    ChannelLookupHandler(maximumChannels: 1000) { _ in .pending(made.futureResult) }
                )
                try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
                try channel.writeInbound(try OriginRequest(uri: "/live/room7.flv"))
            }

            func finish() {
                // A promise never completed must not be leaked; one completed already ignores this.
                made.fail(ChannelDirectory.Ended())
                _ = try? channel.finish(acceptAlreadyClosed: true)
            }
        }

        @Test func theRequestWaitsForTheChannelThenGoesOnWithIt() throws {
            let rig = try Rig()
            defer { rig.finish() }
            #expect(try rig.channel.readInbound(as: ChannelRequest.self) == nil)
            rig.made.succeed(rig.core.channels.standard)
            let found = try #require(try rig.channel.readInbound(as: ChannelRequest.self))
            #expect(found.channel === rig.core.channels.standard && found.request.channel == ChannelName("room7"))
        }

        @Test func aChannelThatEndedWhileBeingMadeIs404() throws {
            let rig = try Rig()
            defer { rig.finish() }
            rig.made.fail(ChannelDirectory.Ended())
            #expect(try HandlerTesting.outboundText(rig.channel).hasSuffix("\r\n\r\nchannel ended: room7\n"))
            #expect(!rig.channel.isActive)
        }

        @Test func aChannelThatCouldNotBeMadeIs500() throws {
            let rig = try Rig()
            defer { rig.finish() }
            rig.made.fail(OriginError.malformedMedia("no keyframe"))
            let response = try HandlerTesting.outboundText(rig.channel)
            #expect(response.hasPrefix("HTTP/1.1 500 Internal Server Error\r\n"))
            #expect(
                response.hasSuffix("channel room7 could not be made: synthesised media is malformed: no keyframe\n")
            )
        }

        @Test func aClientThatGoesWhileItIsMadeGetsNothing() throws {
            let rig = try Rig()
            defer { rig.finish() }
            rig.channel.pipeline.fireChannelInactive()
            rig.made.succeed(rig.core.channels.standard)
            #expect(try rig.channel.readInbound(as: ChannelRequest.self) == nil)
            #expect(try rig.channel.readOutbound(as: ByteBuffer.self) == nil)
        }
    }
}
