import NIOCore
import NIOEmbedded
import Testing

@testable import FirstFrameOrigin

extension OriginTests {
    /// ``SentAccountingHandler`` alone: the viewer's counters and the sent log, from the parts that go out.
    @Suite struct SentAccounting {
        private struct Rig {
            let viewer = HandlerTesting.viewer(id: 11)
            let log = SentLog(capacity: 100)
            let channel: EmbeddedChannel

            init(logs: Bool = true) throws {
                channel = try HandlerTesting.channel([SentAccountingHandler()])
                channel.pipeline.triggerUserOutboundEvent(
                    HandlerTesting.started(viewer: viewer, sentLog: logs ? log : nil),
                    promise: nil
                )
            }

            func write(_ body: BodyBytes, flush: Bool = true) {
                channel.write(ResponsePart.body(body), promise: nil)
                if flush { channel.flush() }
            }

            func finish() { _ = try? channel.finish(acceptAlreadyClosed: true) }
        }

        @Test func theViewerCountsBytesAndItsFirstBodyAndKeyframeWrites() throws {
            let rig = try Rig(logs: false)
            defer { rig.finish() }
            #expect(rig.viewer.snapshot.firstBodyWriteNs == nil)
            rig.write(BodyBytes(ByteBuffer(repeating: 0, count: 10)))
            #expect(rig.viewer.snapshot.firstBodyWriteNs != nil)
            rig.write(BodyBytes(tag: HandlerTesting.tag(40, size: 5)))
            #expect(rig.viewer.snapshot.firstKeyframeWriteNs == nil)
            rig.write(BodyBytes(tag: HandlerTesting.tag(80, key: true, size: 20)))
            let stats = rig.viewer.snapshot
            #expect(stats.bytesSent == 35)
            let body = try #require(stats.firstBodyWriteNs)
            let keyframe = try #require(stats.firstKeyframeWriteNs)
            #expect(keyframe >= body)
            #expect(try HandlerTesting.outbound(rig.channel, as: ResponsePart.self).count == 3, "every part goes on")
        }

        @Test func eachTagIsLoggedOnceWrittenAndACutOneIsIncomplete() throws {
            let rig = try Rig()
            defer { rig.finish() }
            let whole = HandlerTesting.tag(40, key: true)
            let cut = HandlerTesting.tag(80)
            rig.write(BodyBytes(ByteBuffer(string: "preamble")))
            rig.write(BodyBytes(tag: whole), flush: false)
            #expect(rig.log.snapshot.tags.isEmpty, "not written yet")
            rig.channel.flush()
            rig.write(BodyBytes(bytes: ByteBuffer(bytes: [1, 2]), tag: cut, intact: false))
            rig.write(BodyBytes(bytes: ByteBuffer(), tag: HandlerTesting.tag(120), intact: false))
            #expect(
                rig.log.snapshot.tags == [
                    SentTag(connection: 11, complete: true, packet: try #require(whole.packet)),
                    SentTag(connection: 11, complete: false, packet: try #require(cut.packet)),
                ]
            )
        }

        @Test func beforeAStreamStartsNothingIsCounted() throws {
            let channel = try HandlerTesting.channel([SentAccountingHandler()])
            defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
            try channel.writeOutbound(ResponsePart.raw(ByteBuffer(string: "HTTP/1.1 404 Not Found\r\n\r\n")))
            #expect(try channel.readOutbound(as: ResponsePart.self)?.text == "HTTP/1.1 404 Not Found\r\n\r\n")
        }
    }
}
