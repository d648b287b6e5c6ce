import FirstFrameFFmpeg
import FirstFrameNetwork
import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import FirstFrameOrigin

extension OriginTests {
    /// ``OriginPagesHandler`` alone: the routes that are not streams are answered; streams go on.
    @Suite struct PagesHandler {
        /// The page `uri` answers, over a fresh core; `prepare` runs on the core first.
        private static func page(
            _ uri: String,
            logsSentTags: Bool = false,
            prepare: (OriginCore) -> Void = { _ in }
        ) throws -> (head: String, body: String) {
            let loop = EmbeddedEventLoop()
            let core = try HandlerTesting.core(on: loop, logsSentTags: logsSentTags)
            prepare(core)
            let channel = EmbeddedChannel(loop: loop)
            try channel.pipeline.syncOperations.addHandler(OriginPagesHandler(core: core))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
            defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
            try channel.writeInbound(try OriginRequest(uri: uri))
            let response = try HandlerTesting.outboundText(channel)
            #expect(!channel.isActive, "closed once the page went out")
            let parts = response.components(separatedBy: "\r\n\r\n")
            return (parts[0], parts.dropFirst().joined(separator: "\r\n\r\n"))
        }

        @Test func theIndexListsThePathsParametersAndChannels() throws {
            let (head, body) = try Self.page("/")
            #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(head.contains("Content-Type: text/plain; charset=utf-8"))
            #expect(head.contains("Content-Length: \(body.utf8.count)"))
            #expect(body.contains("/gop/stream.flv") && body.contains(OriginRequest.parameterSummary))
            #expect(body.contains("stream: program 0, from GOP 0, 0 viewers"))
        }

        @Test func statsAreTheRegistrysJSON() throws {
            let (head, body) = try Self.page("/stats") { core in
                core.registry.add(ViewerCounters(id: 3, path: "/gop/stream.flv", channel: "stream", mode: .gop))
            }
            #expect(head.contains("Content-Type: application/json"))
            let stats = try JSONDecoder().decode(OriginStats.self, from: Data(body.utf8))
            #expect(stats.activeViewers == 1)
            #expect(stats.viewers.first?.id == 3)
            #expect(stats.channels.map(\.name) == ["stream"])
        }

        @Test func theSentLogIsServedAsJSONLinesOnlyWhenKept() throws {
            let off = try Self.page("/sent/stream")
            #expect(off.head.hasPrefix("HTTP/1.1 404 Not Found"))
            #expect(off.body.hasPrefix("the sent log is off"))
            let unplayed = try Self.page("/sent/room7", logsSentTags: true)
            #expect(unplayed.head.hasPrefix("HTTP/1.1 404 Not Found"))
            #expect(unplayed.body == "no channel room7 has been played\n")
            let digest = PacketDigest(kind: .video, milliseconds: 40, isKeyframe: true, size: 9, hash: 0xAB)
            let sent = SentTag(connection: 2, complete: false, packet: digest)
            let (head, body) = try Self.page("/sent/stream", logsSentTags: true) { core in
                core.channels.standard.sentLog?.append(sent)
            }
            #expect(head.hasPrefix("HTTP/1.1 200 OK"))
            #expect(head.contains("Content-Type: application/jsonl") && head.contains("X-Sent-Log-Dropped: 0"))
            #expect(body == sent.jsonLine + "\n")
        }

        @Test func anUnknownPathIs404() throws {
            let (head, body) = try Self.page("/nothing")
            #expect(head.hasPrefix("HTTP/1.1 404 Not Found"))
            #expect(body == "no such path: /nothing\n")
        }

        @Test func aStreamRequestGoesOnUnanswered() throws {
            let loop = EmbeddedEventLoop()
            let channel = EmbeddedChannel(
                handler: OriginPagesHandler(core: try HandlerTesting.core(on: loop)),
                loop: loop
            )
            defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
            let request = try OriginRequest(uri: "/live/room7.flv")
            try channel.writeInbound(request)
            #expect(try channel.readInbound(as: OriginRequest.self) == request)
            #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        }
    }
}
