import NIOCore
import NIOEmbedded
import Testing

@testable import FirstFrameOrigin

extension OriginTests {
    /// ``ConnectionDropHandler`` alone, on the embedded loop's clock.
    @Suite struct Drop {
        private struct Rig {
            let events = InboundEventRecorder()
            let channel: EmbeddedChannel

            init(_ behaviour: Behaviour?) throws {
                channel = try HandlerTesting.channel([ConnectionDropHandler(), events])
                if let behaviour {
                    channel.pipeline.triggerUserOutboundEvent(HandlerTesting.started(behaviour), promise: nil)
                }
            }

            func advance(_ milliseconds: Int64) {
                channel.embeddedEventLoop.advanceTime(by: .milliseconds(milliseconds))
            }

            func finish() { _ = try? channel.finish(acceptAlreadyClosed: true) }
        }

        @Test func theConnectionDropsThatLongAfterTheStreamStartedWithNothingMoreFlushed() throws {
            let rig = try Rig(Behaviour(closeAfterMilliseconds: 500))
            defer { rig.finish() }
            rig.channel.write(ResponsePart.raw(ByteBuffer(string: "written, never flushed")), promise: nil)
            rig.advance(499)
            #expect(rig.channel.isActive)
            rig.advance(1)
            #expect(!rig.channel.isActive)
            #expect(rig.events.stops == [.dropped])
            #expect(try rig.channel.readOutbound(as: ResponsePart.self) == nil, "a drop flushes nothing")
        }

        @Test func aStalledStreamIsStillDropped() throws {
            let rig = try Rig(Behaviour(stallAfterBytes: 10, closeAfterMilliseconds: 500))
            defer { rig.finish() }
            rig.channel.pipeline.fireUserInboundEventTriggered(StreamStopped.stalled)
            rig.advance(500)
            #expect(!rig.channel.isActive)
        }

        @Test(arguments: [StreamStopped.cut, .ended])
        func aStreamClosingOfItsOwnIsLeftToClose(_ stop: StreamStopped) throws {
            let rig = try Rig(Behaviour(closeAfterMilliseconds: 500))
            defer { rig.finish() }
            rig.channel.pipeline.fireUserInboundEventTriggered(stop)
            rig.advance(1000)
            #expect(rig.channel.isActive)
            #expect(rig.events.stops == [stop])
        }

        @Test func withoutCloseAfterMillisecondsOrAStreamNothingDrops() throws {
            for behaviour in [Behaviour(), nil] {
                let rig = try Rig(behaviour)
                defer { rig.finish() }
                rig.advance(86_400_000)
                #expect(rig.channel.isActive)
            }
        }
    }
}
