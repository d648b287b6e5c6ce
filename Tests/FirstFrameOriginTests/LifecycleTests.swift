import FirstFrameCore
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import NIOPosix
import OriginTestSupport
import Testing

extension OriginTests {
    @Suite struct Lifecycle {
        @Test func shutdownClosesClientConnectionsOnASharedEventLoopGroup() async throws {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let origin = try await LiveOrigin.start(OriginConfiguration(eventLoopGroup: group))
            let url = origin.url(.gop)
            let client = try await blocking { () -> RawHTTPClient in
                let client = try RawHTTPClient(url: url)
                try client.sendRequest()
                _ = try client.readHead()
                return client
            }
            #expect(try await eventually(timeout: 5) { origin.stats().activeViewers == 1 })
            #expect(origin.openConnections == 1)
            try await origin.shutdown()
            // The group lives on (it is the caller's), yet the client sees its stream end.
            let ended = try await blocking { () -> Bool in
                while true {
                    switch client.read(timeout: 5) {
                    case .bytes: continue
                    case .closed: return true
                    case .timedOut: return false
                    }
                }
            }
            #expect(ended)
            #expect(origin.openConnections == 0)
            try await group.shutdownGracefully()
        }

        @Test func statsAndIndexAreServedOverHTTP() async throws {
            try await withOrigin { origin in
                let base = origin.baseURL
                let streamURL = origin.url(.gop)
                let (index, stats) = try await blocking {
                    // One stream viewer connected while /stats is read.
                    let viewer = try RawHTTPClient(url: streamURL)
                    try viewer.sendRequest()
                    _ = try viewer.readHead()
                    let index = try ReceivedStream.receive(base + "/", timeout: 5)
                    let stats = try ReceivedStream.receive(base + "/stats", timeout: 5)
                    withExtendedLifetime(viewer) {}
                    return (index, stats)
                }
                #expect(index.head.status == 200)
                let text = String(decoding: index.body, as: UTF8.self)
                #expect(text.contains("/gop/stream.flv"))
                #expect(text.contains("/live/NAME.flv") && text.contains(OriginRequest.parameterSummary))
                #expect(text.contains("stream: program 0, from GOP 0, 1 viewers"))
                #expect(stats.head.status == 200)
                #expect(stats.head.headers["content-type"] == "application/json")
                let decoded = try JSONDecoder().decode(OriginStats.self, from: Data(stats.body))
                #expect(decoded.activeViewers == 1)
                #expect(decoded.viewers.first?.mode == .gop)
                #expect(decoded.viewers.first?.channel == "stream")
                #expect(decoded.channels.map(\.name) == ["stream"])
                #expect(decoded.tagsEmitted > 0)
            }
        }

        @Test func aBusyPortIsAnErrorNotACrash() async throws {
            try await withOrigin { origin in
                await #expect(throws: (any Error).self) {
                    try await LiveOrigin.start(OriginConfiguration(port: origin.port))
                }
            }
        }
    }
}
