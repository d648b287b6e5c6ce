import CoreMetrics
import FirstFrameCore
import FirstFrameNetwork
import FirstFrameTestSupport
import Foundation
import MetricsTestKit
import Synchronization
import Testing

extension NetworkTests {
    /// The DNS cache's swift-metrics counters and entries gauge, read through a `TestMetrics` given to the cache
    /// (nothing is bootstrapped): they say what ``DNSCache/stats`` says.
    @Suite struct DNSCacheMetricsTests {
        static func counter(_ metrics: TestMetrics, _ name: String) -> Int64 {
            metrics.counterTotal(label: name)
        }

        static func entries(_ metrics: TestMetrics) throws -> Double {
            try metrics.expectMeter(DNSCacheMetricNames.entries).lastValue ?? 0
        }

        /// Every counter against the stats it mirrors.
        static func expectCountersMatch(
            _ cache: DNSCache,
            _ metrics: TestMetrics,
            sourceLocation: SourceLocation = #_sourceLocation
        ) {
            let stats = cache.stats
            #expect(counter(metrics, DNSCacheMetricNames.hits) == Int64(stats.hits), sourceLocation: sourceLocation)
            #expect(counter(metrics, DNSCacheMetricNames.misses) == Int64(stats.misses), sourceLocation: sourceLocation)
            #expect(
                counter(metrics, DNSCacheMetricNames.staleServed) == Int64(stats.staleServes),
                sourceLocation: sourceLocation
            )
            #expect(
                counter(metrics, DNSCacheMetricNames.negativeHits) == Int64(stats.negativeHits),
                sourceLocation: sourceLocation
            )
            #expect(
                counter(metrics, DNSCacheMetricNames.refreshes) == Int64(stats.refreshes),
                sourceLocation: sourceLocation
            )
            #expect(
                counter(metrics, DNSCacheMetricNames.demotions) == Int64(stats.demotions),
                sourceLocation: sourceLocation
            )
        }

        @Test func hitsMissesStaleNegativeRefreshesAndDemotionsAreCounted() async throws {
            let metrics = TestMetrics()
            let probe = ResolverProbe()
            let addresses = [IPAddress("127.0.0.1")!, IPAddress("127.0.0.2")!]
            let cache = DNSCache(
                configuration: .init(
                    resolver: probe.resolver(ttl: 0.2) { host throws(DNSError) in
                        if host.hasPrefix("gone") { throw .noSuchHost(host) }
                        return addresses
                    },
                    minimumTTL: 0.05,
                    refreshAhead: 1,
                    maximumStale: 30,
                    negativeTTL: 30
                ),
                metricsFactory: metrics
            )
            defer { cache.shutdown() }
            // The series exist from the cache's birth, at zero.
            for name in DNSCacheMetricNames.all where name != DNSCacheMetricNames.entries {
                #expect(throws: Never.self) { try metrics.expectCounter(name) }
            }
            #expect(try Self.entries(metrics) == 0)

            // A miss, then hits.
            #expect(try await cache.lookup(host: "live.test").source == .resolver)
            for _ in 0..<3 { #expect(try await cache.lookup(host: "live.test").source == .cache) }
            #expect(Self.counter(metrics, DNSCacheMetricNames.misses) == 1)
            #expect(Self.counter(metrics, DNSCacheMetricNames.hits) == 3)
            #expect(try Self.entries(metrics) == 1)

            // A name that does not exist: a miss, then negative hits. Failures are not entries.
            for _ in 0..<3 {
                await #expect(throws: DNSError.noSuchHost("gone.test")) { try await cache.lookup(host: "gone.test") }
            }
            #expect(Self.counter(metrics, DNSCacheMetricNames.negativeHits) == 2)
            #expect(try Self.entries(metrics) == 1)

            // A literal is neither a hit nor a miss.
            _ = try await cache.lookup(host: "127.0.0.9")
            Self.expectCountersMatch(cache, metrics)

            // Past its TTL: served stale while it is refreshed.
            try await Task.sleep(for: .milliseconds(300))  // the scenario: the TTL runs out
            let callsBefore = probe.callCount
            #expect(try await cache.lookup(host: "live.test").source == .stale)
            #expect(try await eventually(timeout: 2) { probe.callCount > callsBefore && cache.stats.refreshes == 1 })
            #expect(Self.counter(metrics, DNSCacheMetricNames.staleServed) == 1)
            #expect(Self.counter(metrics, DNSCacheMetricNames.refreshes) == 1)

            // A demotion re-resolves: one more refresh.
            cache.demote(addresses[0], host: "live.test")
            #expect(Self.counter(metrics, DNSCacheMetricNames.demotions) == 1)
            #expect(try await eventually(timeout: 2) { cache.stats.refreshes == 2 })
            // An address the cache does not hold is no demotion.
            cache.demote(IPAddress("10.9.9.9")!, host: "live.test")
            Self.expectCountersMatch(cache, metrics)

            // Seeded hosts are entries too.
            cache.seed(["seeded.test": [IPAddress("127.0.0.3")!]])
            #expect(try Self.entries(metrics) == Double(cache.cachedHosts.count))
            #expect(cache.cachedHosts.count == 2)
        }

        /// The gauge sums the process's caches, and a cache that goes takes its entries with it.
        @Test func theEntriesGaugeSumsCachesAndForgetsOnesThatGo() async throws {
            let metrics = TestMetrics()
            let probe = ResolverProbe()
            let kept = DNSCache(configuration: .init(resolver: probe.resolver()), metricsFactory: metrics)
            defer { kept.shutdown() }
            _ = try await kept.lookup(host: "a.test")
            do {
                let passing = DNSCache(configuration: .init(resolver: probe.resolver()), metricsFactory: metrics)
                _ = try await passing.lookup(host: "a.test")
                _ = try await passing.lookup(host: "b.test")
                #expect(try Self.entries(metrics) == 3)
                passing.shutdown()
            }
            #expect(try await eventually(timeout: 2) { (try? Self.entries(metrics)) == 1 })
            // Expired entries leave the gauge when the cache evicts them.
            let short = DNSCache(
                configuration: .init(resolver: probe.resolver(ttl: 0.05), minimumTTL: 0.01, maximumStale: 0),
                metricsFactory: metrics
            )
            defer { short.shutdown() }
            _ = try await short.lookup(host: "old.test")
            #expect(try Self.entries(metrics) == 2)
            try await Task.sleep(for: .milliseconds(100))  // the scenario: TTL and stale window run out
            _ = try await short.lookup(host: "new.test")
            #expect(short.cachedHosts == ["new.test"])
            #expect(try Self.entries(metrics) == 2)
        }

        /// Many threads looking up, demoting and refreshing at once: the counters add up to the stats (and, under
        /// `make tsan`, without a data race).
        @Test func countersStayExactUnderConcurrentLookups() async throws {
            let metrics = TestMetrics()
            let probe = ResolverProbe()
            let hosts = (0..<8).map { "host\($0).test" }
            let cache = DNSCache(
                configuration: .init(
                    resolver: probe.resolver(ttl: 0.05) { _ in [IPAddress("127.0.0.1")!, IPAddress("127.0.0.2")!] },
                    minimumTTL: 0.01,
                    refreshAhead: 0.5,
                    maximumStale: 30
                ),
                metricsFactory: metrics
            )
            defer { cache.shutdown() }
            let threads = 8
            let iterations = 2_000
            let done = DispatchGroup()
            for thread in 0..<threads {
                done.enter()
                Thread {
                    for index in 0..<iterations {
                        let host = hosts[(thread + index) % hosts.count]
                        if let lookup = try? cache.lookupBlocking(host: host), index % 100 == 0 {
                            cache.demote(lookup.addresses[0], host: host)
                        }
                    }
                    done.leave()
                }.start()
            }
            try await blocking { done.wait() }
            try await Task.sleep(for: .milliseconds(100))  // resolutions the last lookups started finish
            Self.expectCountersMatch(cache, metrics)
            let stats = cache.stats
            #expect(stats.hits + stats.staleServes + stats.misses == threads * iterations)
            #expect(try Self.entries(metrics) == Double(cache.cachedHosts.count))
            report("DNS cache metrics, \(threads) threads × \(iterations) lookups: \(stats)")
        }
    }
}
