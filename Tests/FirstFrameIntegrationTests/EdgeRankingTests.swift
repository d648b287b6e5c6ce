import FirstFrame
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
import FirstFrameNetwork
import FirstFrameFFmpeg
#endif

extension OriginTests {
    /// Edge ranking end to end: one name, two loopback edges on the same port, one slow to connect (a full accept
    /// queue: the SYN is dropped and retried after about a second), opened through the opener with its own cache.
    @Suite struct EdgeRankingOverLoopback {
        init() { FFmpegLog.level = .quiet }

        @Test(.enabled(if: NetworkTrace.isAvailable))
        func theFastEdgeIsChosenAndARecoveredOneIsFoundByExploring() async throws {
            try await withOrigin { origin in
                let slow = IPAddress("127.0.0.2")!
                let fast = IPAddress("127.0.0.1")!
                let blocked = try BlockedListener(address: "127.0.0.2", port: origin.port)
                let cache = DNSCache(
                    configuration: .init(
                        // The slow edge first, as a resolver might put it.
                        resolver: StaticResolver(["edges.test": [slow, fast]]),
                        // FFmpeg races past the slow edge after 200–300 ms, which demotes it for a minute by default; here
                        // it is only ranked, so the test sees the ranking on its own.
                        demotionPeriod: 0,
                        // The third lookup explores.
                        explorationInterval: 3
                    )
                )
                defer { cache.shutdown() }
                let opener = try StreamOpener(knobs: Preset.instant.knobs, dnsCache: cache)
                let url = origin.url(host: "edges.test")

                // 1. Nothing measured: the resolver's order, and the open pays FFmpeg's race delay before the next address.
                let first = try await opener.open(url).report
                let firstEdge = try #require(first.hops.first?.dns?.edge)
                #expect(firstEdge.reason == .resolverOrder && firstEdge.chosen == slow)
                let raced = try #require(first.hops.first?.connects)
                try #require(raced.count == 2)
                #expect(raced[0].address == "127.0.0.2" && raced[0].outcome == .abandoned)
                #expect(raced[1].address == "127.0.0.1" && raced[1].outcome == .connected)
                let fallbackMs = try #require(raced[1].endMs) - raced[0].startMs
                #expect(fallbackMs >= 195, "the slow edge held the connect until FFmpeg raced the next one")

                // 2. Both measured (the slow one as at least its wait): the fast edge goes first, and says so.
                let second = try await opener.open(url).report
                let secondEdge = try #require(second.hops.first?.dns?.edge)
                #expect(secondEdge.reason == .fastest && secondEdge.chosen == fast)
                #expect(secondEdge.candidates.map(\.address) == [fast, slow])
                #expect(secondEdge.candidates.map(\.samples) == [1, 1])
                let fastMs = try #require(secondEdge.candidates[0].averageConnectMs)
                let slowMs = try #require(secondEdge.candidates[1].averageConnectMs)
                #expect(slowMs >= 195 && fastMs < 50)
                let direct = try #require(second.hops.first?.connects)
                #expect(direct.map(\.address) == ["127.0.0.1"] && direct.first?.outcome == .connected)
                let secondConnectMs = try #require(direct.first?.endMs) - (try #require(direct.first?.startMs))
                // The report keeps the choice through JSON.
                let decoded = try JSONDecoder().decode(FirstFrameReport.self, from: JSONEncoder().encode(second))
                #expect(decoded.hops.first?.dns?.edge == secondEdge)

                // 3. The slow edge recovers; the third lookup explores it, and its connect is now a fast one.
                let recovery = Recovery(blocked, relayingTo: origin.port)
                defer { recovery.stop() }
                let third = try await opener.open(url).report
                #expect(third.outcome == .ok)
                let thirdEdge = try #require(third.hops.first?.dns?.edge)
                #expect(thirdEdge.reason == .exploring && thirdEdge.chosen == slow)
                let explored = try #require(third.hops.first?.connects)
                #expect(explored.map(\.address) == ["127.0.0.2"] && explored.first?.outcome == .connected)
                let recoveredMs = try #require(explored.first?.endMs) - (try #require(explored.first?.startMs))
                #expect(recoveredMs < 100)
                let after = try #require(cache.edgeChoice(for: "edges.test"))
                let slowAfter = try #require(after.candidates.first { $0.address == slow }?.averageConnectMs)
                #expect(slowAfter < slowMs * 0.8, "the recovered edge's average came down")
                #expect(after.candidates.first { $0.address == slow }?.samples == 2)
                #expect(cache.stats.explorations == 1)

                report(
                    String(
                        format:
                            "edge ranking: open 1 (slow edge first) connected after %.1f ms; open 2 chose the fast edge "
                            + "(average %.3f ms vs %.1f ms for the slow one, ×%.0f), connect %.3f ms; open 3 explored the "
                            + "recovered edge: connect %.3f ms, its average %.1f → %.1f ms",
                        fallbackMs,
                        fastMs,
                        slowMs,
                        slowMs / max(fastMs, 0.001),
                        secondConnectMs,
                        recoveredMs,
                        slowMs,
                        slowAfter
                    )
                )
            }
        }
    }
}

/// Puts a blocked listener back in service: takes the filler out of its accept queue, so the next connect to its
/// address completes at once, and relays every connection it accepts from then on to the origin.
private final class Recovery: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    init(_ listener: BlockedListener, relayingTo port: Int) {
        close(listener.acceptFiller())
        Thread { [self] in
            var watched = pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0)
            // The poll's timeout only bounds how late `stop()` is noticed.
            while !stopped.load(ordering: .relaxed) {
                guard poll(&watched, 1, 20) > 0 else { continue }
                let (client, _) = listener.accept()
                if client >= 0 { relay(client, toPort: port) }
            }
            finished.signal()
        }.start()
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        finished.wait()
    }
}
