import NIOCore
import NIOEmbedded
import Testing

@testable import FirstFrameOrigin

extension OriginTests {
    /// ``BodyFaultHandler`` alone: byte limits and corruption at offsets into the body.
    @Suite struct BodyFaults {
        private struct Rig {
            let events = InboundEventRecorder()
            let channel: EmbeddedChannel

            init(_ behaviour: Behaviour) throws {
                channel = try HandlerTesting.channel([BodyFaultHandler(), events])
                channel.pipeline.triggerUserOutboundEvent(HandlerTesting.started(behaviour), promise: nil)
                // The head is no body: the offsets do not count it.
                try channel.writeOutbound(ResponsePart.raw(ByteBuffer(string: "HTTP/1.1 200 OK\r\n\r\n")))
                _ = try channel.readOutbound(as: ResponsePart.self)
            }

            /// Writes one body part per size, each made of bytes 1, 2, 3, … (tags for the sent log).
            func send(_ sizes: [Int]) {
                for (index, size) in sizes.enumerated() {
                    let tag = HandlerTesting.tag(UInt32(index + 1), size: size)
                    channel.writeAndFlush(ResponsePart.body(BodyBytes(tag: tag)), promise: nil)
                }
            }

            func bodies() throws -> [BodyBytes] {
                try HandlerTesting.outbound(channel, as: ResponsePart.self).compactMap(\.body)
            }

            func finish() { _ = try? channel.finish(acceptAlreadyClosed: true) }
        }

        @Test func stallAfterSendsExactlyThatManyBytesThenNothingWithTheConnectionOpen() throws {
            let rig = try Rig(Behaviour(stallAfterBytes: 25))
            defer { rig.finish() }
            rig.send([10, 10, 10, 10])
            let bodies = try rig.bodies()
            #expect(
                bodies.map { Array(buffer: $0.bytes) } == [
                    [UInt8](repeating: 1, count: 10), [UInt8](repeating: 2, count: 10), [3, 3, 3, 3, 3],
                ]
            )
            #expect(bodies.map(\.intact) == [true, true, false], "the cut tag is not whole")
            #expect(rig.events.stops == [.stalled], "fired once, at the limit")
            #expect(rig.channel.isActive)
        }

        @Test func closeAfterSendsExactlyThatManyBytesThenCloses() throws {
            let rig = try Rig(Behaviour(closeAfterBytes: 20))
            defer { rig.finish() }
            rig.send([10, 10, 10])
            let bodies = try rig.bodies()
            #expect(bodies.map(\.bytes.readableBytes) == [10, 10])
            #expect(bodies.map(\.intact) == [true, true], "a limit on a tag boundary cuts no tag")
            #expect(rig.events.stops == [.cut])
            #expect(!rig.channel.isActive, "closed once the bytes went out")
        }

        @Test func theNearerLimitWins() throws {
            let stall = try Rig(Behaviour(stallAfterBytes: 5, closeAfterBytes: 8))
            defer { stall.finish() }
            stall.send([10])
            #expect(try stall.bodies().map(\.bytes.readableBytes) == [5])
            #expect(stall.events.stops == [.stalled] && stall.channel.isActive)
            let close = try Rig(Behaviour(stallAfterBytes: 8, closeAfterBytes: 5))
            defer { close.finish() }
            close.send([10])
            #expect(try close.bodies().map(\.bytes.readableBytes) == [5])
            #expect(close.events.stops == [.cut] && !close.channel.isActive)
        }

        @Test func aLimitOfNothingCutsTheFirstPartToNothing() throws {
            let rig = try Rig(Behaviour(stallAfterBytes: 0))
            defer { rig.finish() }
            rig.send([10, 10])
            let bodies = try rig.bodies()
            #expect(bodies.map(\.bytes.readableBytes) == [0] && bodies.map(\.intact) == [false])
            #expect(rig.events.stops == [.stalled])
        }

        @Test func corruptionInvertsExactlyTheRequestedBytesAcrossParts() throws {
            let rig = try Rig(Behaviour(corruptAtByte: 8, corruptLength: 4))
            defer { rig.finish() }
            rig.send([10, 10, 10])
            let bodies = try rig.bodies()
            #expect(Array(buffer: bodies[0].bytes) == [1, 1, 1, 1, 1, 1, 1, 1, ~1, ~1])
            #expect(Array(buffer: bodies[1].bytes) == [~2, ~2, 2, 2, 2, 2, 2, 2, 2, 2])
            #expect(Array(buffer: bodies[2].bytes) == [UInt8](repeating: 3, count: 10))
            #expect(bodies.map(\.intact) == [false, false, true])
            #expect(rig.events.stops.isEmpty)
        }

        @Test func theOriginalBytesAreNotTouched() throws {
            let rig = try Rig(Behaviour(corruptAtByte: 0, corruptLength: 2))
            defer { rig.finish() }
            // Every connection shares the channel's tag buffers: corrupting one client's copy must not reach another's.
            let tag = HandlerTesting.tag(5, size: 4)
            rig.channel.writeAndFlush(ResponsePart.body(BodyBytes(tag: tag)), promise: nil)
            #expect(try rig.bodies().map { Array(buffer: $0.bytes) } == [[~5, ~5, 5, 5]])
            #expect(Array(buffer: tag.bytes) == [5, 5, 5, 5])
        }

        @Test func withoutFaultsTheBodyPassesUntouched() throws {
            let rig = try Rig(Behaviour())
            defer { rig.finish() }
            rig.send([10, 1000])
            let bodies = try rig.bodies()
            #expect(bodies.map(\.bytes.readableBytes) == [10, 1000] && bodies.allSatisfy(\.intact))
        }
    }
}
