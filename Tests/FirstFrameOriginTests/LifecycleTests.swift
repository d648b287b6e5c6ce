import FirstFrame
import FirstFrameOrigin
import NIOPosix
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

        @Test func aBusyPortIsAnErrorNotACrash() async throws {
            try await withOrigin { origin in
                await #expect(throws: (any Error).self) {
                    try await LiveOrigin.start(OriginConfiguration(port: origin.port))
                }
            }
        }
    }
}
