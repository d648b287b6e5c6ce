import NIOCore
import NIOEmbedded
import Testing

@testable import FirstFrameOrigin

extension OriginTests {
    /// ``ResponseFramingHandler`` alone: the bytes each part becomes, close-delimited or chunked.
    @Suite struct Framing {
        /// The bytes `parts` become, as text, one string per part.
        private static func frame(_ parts: [ResponsePart], chunked: Bool) throws -> [String] {
            let channel = try HandlerTesting.channel([ResponseFramingHandler()])
            defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
            channel.pipeline.triggerUserOutboundEvent(HandlerTesting.started(Behaviour(chunked: chunked)), promise: nil)
            var framed: [String] = []
            for part in parts {
                try channel.writeOutbound(part)
                framed.append(try HandlerTesting.outboundText(channel))
            }
            return framed
        }

        private static let parts: [ResponsePart] = [
            .raw(ByteBuffer(string: "HTTP/1.1 200 OK\r\n\r\n")),
            .body(BodyBytes(ByteBuffer(string: "FLV\u{1}0123456789ab"))),
            .body(BodyBytes(ByteBuffer())),
            .end,
        ]

        @Test func aCloseDelimitedBodyGoesOutAsItIs() throws {
            #expect(
                try Self.frame(Self.parts, chunked: false) == [
                    "HTTP/1.1 200 OK\r\n\r\n", "FLV\u{1}0123456789ab", "", "",
                ]
            )
        }

        @Test func aChunkedBodyIsOneChunkPerPartAndEndsWithTheFinalChunk() throws {
            #expect(
                try Self.frame(Self.parts, chunked: true) == [
                    "HTTP/1.1 200 OK\r\n\r\n", "10\r\nFLV\u{1}0123456789ab\r\n", "", "0\r\n\r\n",
                ]
            )
        }
    }
}
