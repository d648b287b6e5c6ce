import FirstFrameCore
import FirstFrameNetwork
import FirstFrameTestSupport
import Foundation
import Testing

extension NetworkTests {
    /// The DNS cache's hedged second query (`lookupHedge`) against a real DNS server on loopback that loses the
    /// first query, through libresolv, as on a lossy link.
    @Suite struct LookupHedgeTests {
        private func cache(server: LoopbackDNSServer, hedge: Double) -> DNSCache {
            DNSCache(
                configuration: .init(
                    families: .ipv4Only,
                    // libresolv would retry the lost query only after its 3 s timeout.
                    resolver: SystemResolver(nameserver: server.address, queryTimeoutSeconds: 3, queryAttempts: 1),
                    lookupTimeout: 1.5,
                    lookupHedge: hedge
                )
            )
        }

        @Test func aLostQueryIsAnsweredByTheHedgeAfterItsDelay() throws {
            let server = try LoopbackDNSServer(
                zone: ["edge.example.com": [IPAddress("127.0.0.9")!]],
                ttl: 60,
                dropping: 1
            )
            defer { server.stop() }
            let cache = cache(server: server, hedge: 0.2)
            let start = MonotonicClock.nanoseconds()
            let lookup = try cache.lookupBlocking(host: "edge.example.com")
            let elapsed = MonotonicClock.milliseconds(since: start)
            #expect(lookup.addresses == [IPAddress("127.0.0.9")!])
            #expect(lookup.answeredByHedge)
            #expect(elapsed < 1000, "answered after \(elapsed) ms")
            #expect(server.received.count == 2)
            #expect(cache.stats.hedges == 1 && cache.stats.hedgeAnswers == 1)
        }

        @Test func withoutTheHedgeTheSameLossTimesTheLookupOut() throws {
            let server = try LoopbackDNSServer(
                zone: ["edge.example.com": [IPAddress("127.0.0.9")!]],
                ttl: 60,
                dropping: 1
            )
            defer { server.stop() }
            let cache = cache(server: server, hedge: 0)
            #expect(throws: DNSError.self) { try cache.lookupBlocking(host: "edge.example.com") }
            #expect(server.received.count == 1)
            #expect(cache.stats.hedges == 0)
        }

        @Test func aQueryAnsweredBeforeTheHedgeDelaySendsNoHedge() throws {
            let server = try LoopbackDNSServer(zone: ["edge.example.com": [IPAddress("127.0.0.9")!]], ttl: 60)
            defer { server.stop() }
            let cache = cache(server: server, hedge: 0.5)
            let lookup = try cache.lookupBlocking(host: "edge.example.com")
            #expect(!lookup.answeredByHedge)
            #expect(server.waitForQuery(timeout: 1))
            // The hedge timer fires after the answer and finds the resolution settled: no second query comes.
            #expect(!server.waitForQuery(timeout: 0.8))
            #expect(server.received.count == 1)
            #expect(cache.stats.hedges == 0)
        }

        @Test func theHedgeDelayIsValidated() {
            var configuration = DNSCache.Configuration(lookupHedge: -1)
            #expect(throws: DNSCacheConfigurationError.self) { try configuration.validate() }
            configuration.lookupHedge = .nan
            #expect(throws: DNSCacheConfigurationError.self) { try configuration.validate() }
            configuration.lookupHedge = 0.3
            #expect(throws: Never.self) { try configuration.validate() }
        }
    }
}
