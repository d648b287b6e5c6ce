import CNetworkHooks
import CoreMetrics
import FirstFrameCore
import FirstFrameNetwork
import FirstFrameTestSupport
import Foundation
import MetricsTestKit
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension NetworkTests {
    /// The DNS cache on its own: prefetch, TTLs, refresh, stale, negative entries, deadlines, fallbacks. In the
    /// serialised suite because some tests install the cache process-wide.
    @Suite struct DNSCacheBehaviour {
        @Test func prefetchResolvesInParallelAndCachedLookupsReturnAtOnce() async throws {
            let probe = ResolverProbe()
            let cache = DNSCache(configuration: .init(resolver: probe.resolver(delay: .milliseconds(100))))
            defer { cache.shutdown() }
            let hosts = (0..<20).map { "host\($0).test" }
            let results = await cache.prefetch(hosts: hosts)
            #expect(results.values.allSatisfy { (try? $0.get()) == [IPAddress("127.0.0.1")!] })
            #expect(probe.peakConcurrency.load(ordering: .relaxed) >= 10, "prefetch resolves in parallel")
            let iterations = 20_000
            let hitNanoseconds = try await blocking {
                let start = MonotonicClock.nanoseconds()
                for index in 0..<iterations {
                    let lookup = try cache.lookupBlocking(host: hosts[index % hosts.count])
                    precondition(lookup.source == .cache)
                }
                return Double(MonotonicClock.nanoseconds() - start) / Double(iterations)
            }
            report("DNS cache hit: \(hitNanoseconds) ns per lookup (debug build)")
            #expect(probe.callCount == 20)
            #expect(cache.stats.hits == iterations)
            #expect(cache.stats.misses == 0, "prefetching is not a lookup")
        }

        @Test func familyPolicyAppliesToMissesAndToFFmpegsUnspecifiedLookups() async throws {
            let probe = ResolverProbe()
            let both = [IPAddress("127.0.0.1")!, IPAddress("127.0.0.2")!, IPAddress("::1")!, IPAddress("::2")!]
            let v4 = DNSCache(configuration: .init(families: .ipv4Only, resolver: probe.resolver { _ in both }))
            let dual = DNSCache(configuration: .init(families: .both, resolver: probe.resolver { _ in both }))
            #expect(try await v4.lookup(host: "family.test").addresses == Array(both.prefix(2)))
            #expect(
                try await dual.lookup(host: "family.test").addresses.map(\.description) == [
                    "::1", "127.0.0.1", "::2", "127.0.0.2",
                ]
            )
            #expect(probe.calls.map(\.families) == [.ipv4Only, .both])

            // Through the getaddrinfo hook: AF_UNSPEC gets only what the policy allows, with the port applied.
            guard NetworkTrace.isAvailable else { return }
            let families: [Int32] = try await withInstalledCache(v4) {
                try await blocking {
                    var hints = addrinfo()
                    hints.ai_family = AF_UNSPEC
                    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                    var list: UnsafeMutablePointer<addrinfo>?
                    guard getaddrinfo("family.test", "8080", &hints, &list) == 0 else { return [] }
                    defer { freeaddrinfo(list) }
                    var families: [Int32] = []
                    var node = list
                    while let info = node {
                        families.append(info.pointee.ai_family)
                        let address = info.pointee.ai_addr!.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                            $0.pointee
                        }
                        precondition(UInt16(bigEndian: address.sin_port) == 8080)
                        node = info.pointee.ai_next
                    }
                    return families
                }
            }
            #expect(families == [AF_INET, AF_INET])
        }

        @Test func recordTTLFromDNSDrivesARefreshBeforeExpiry() async throws {
            let server = try LoopbackDNSServer(zone: ["live.example.com": [IPAddress("127.0.0.1")!]], ttl: 2)
            defer { server.stop() }
            let cache = DNSCache(
                configuration: .init(resolver: SystemResolver(nameserver: server.address), defaultTTL: 300)
            )
            defer { cache.shutdown() }
            let prefetched = await cache.prefetch(hosts: ["live.example.com"])
            #expect((try? prefetched["live.example.com"]?.get()) == [IPAddress("127.0.0.1")!])
            #expect(server.waitForQuery(timeout: 1))
            // The record says 2 s, so the refresh is due at 80% of it: 1.6 s, before expiry, with no lookup asking.
            let refreshed = try await blocking { server.waitForQuery(timeout: 4) }
            #expect(refreshed)
            let times = server.received.map(\.time)
            try #require(times.count >= 2)
            let gap = Double(times[1] - times[0]) / 1e9
            report("DNS TTL 2 s from a loopback server: refreshed after \(gap) s")
            #expect(gap > 1.4 && gap < 2.0)
            #expect(try await cache.lookup(host: "live.example.com").source == .cache)
            #expect(cache.stats.refreshes >= 1)
            #expect(cache.stats.misses == 0)

            // NXDOMAIN from the server is a negative entry.
            await #expect(throws: DNSError.noSuchHost("missing.example.com")) {
                try await cache.lookup(host: "missing.example.com")
            }
        }

        @Test func expiredEntryIsServedStaleWhileItIsRefreshed() async throws {
            let probe = ResolverProbe()
            let cache = DNSCache(
                configuration: .init(
                    resolver: probe.resolver(ttl: 0.2),
                    minimumTTL: 0.05,
                    refreshAhead: 1,
                    maximumStale: 30
                )
            )
            #expect(try await cache.lookup(host: "stale.test").source == .resolver)
            #expect(probe.finished.wait(timeout: .now() + 2) == .success)
            try await Task.sleep(for: .milliseconds(300))  // the scenario: the TTL runs out
            #expect(try await cache.lookup(host: "stale.test").source == .stale)
            #expect(try await blocking { probe.finished.wait(timeout: .now() + 2) == .success })
            #expect(try await cache.lookup(host: "stale.test").source == .cache)
            #expect(cache.stats.staleServes == 1)
            #expect(cache.stats.refreshes == 1)
            #expect(probe.callCount == 2)
        }

        @Test func entriesPastTheirStaleWindowAreEvicted() async throws {
            let probe = ResolverProbe()
            let cache = DNSCache(
                configuration: .init(
                    resolver: probe.resolver(ttl: 0.05),
                    minimumTTL: 0.01,
                    maximumStale: 0
                )
            )
            _ = try await cache.lookup(host: "old.test")
            try await Task.sleep(for: .milliseconds(100))  // the scenario: TTL and stale window run out
            _ = try await cache.lookup(host: "new.test")
            #expect(cache.cachedHosts == ["new.test"])
        }

        @Test func failedResolutionIsCachedForTheNegativeTTL() async throws {
            let probe = ResolverProbe()
            let cache = DNSCache(
                configuration: .init(
                    resolver: probe.resolver { host throws(DNSError) in throw .noSuchHost(host) },
                    negativeTTL: 0.2
                )
            )
            for _ in 0..<3 {
                await #expect(throws: DNSError.noSuchHost("gone.test")) { try await cache.lookup(host: "gone.test") }
            }
            #expect(probe.callCount == 1)
            #expect(cache.stats.negativeHits == 2)
            #expect(cache.stats.failures == 1)
            try await Task.sleep(for: .milliseconds(250))  // the scenario: the negative TTL runs out
            await #expect(throws: DNSError.noSuchHost("gone.test")) { try await cache.lookup(host: "gone.test") }
            #expect(probe.callCount == 2)
        }

        @Test func aLookupThatMissesEndsAtItsDeadlineOrWhenCancelled() async throws {
            let probe = ResolverProbe()
            let cache = DNSCache(configuration: .init(resolver: probe.resolver(delay: .seconds(5))))
            let (error, elapsed) = try await blocking { () -> (DNSError?, Double) in
                let start = MonotonicClock.nanoseconds()
                do throws(DNSError) {
                    _ = try cache.lookupBlocking(host: "slow.test", deadline: start + 100_000_000)
                    return (nil, 0)
                } catch {
                    return (error, MonotonicClock.milliseconds(since: start))
                }
            }
            report("DNS lookup deadline 100 ms: gave up after \(elapsed) ms")
            guard case .timedOut = try #require(error) else {
                Issue.record("expected timedOut, got \(String(describing: error))")
                return
            }
            #expect(elapsed >= 100 && elapsed < 1000)

            let interrupter = Interrupter()
            let cancelled = Thread {
                probe.started.wait()  // the second host's resolution has begun
                interrupter.cancel()
            }
            cancelled.start()
            let outcome = try await blocking { () -> DNSError? in
                do throws(DNSError) {
                    _ = try cache.lookupBlocking(host: "slower.test") { interrupter.isCancelled }
                    return nil
                } catch {
                    return error
                }
            }
            #expect(outcome == .cancelled("slower.test"))
            #expect(cache.stats.timeouts == 2)

            // The async lookup keeps its timeout even when the resolver is stuck in a thread.
            let stuck = DNSCache(
                configuration: .init(
                    resolver: ClosureResolver(name: "stuck") { host, _ throws(DNSError) in
                        _ = try? await DedicatedThread.run(name: "stuck resolver") { Thread.sleep(forTimeInterval: 2) }
                        throw .timedOut(host, milliseconds: 2000)
                    },
                    lookupTimeout: 0.2
                )
            )
            let asyncStart = MonotonicClock.nanoseconds()
            await #expect(throws: DNSError.self) { try await stuck.lookup(host: "stuck.test") }
            #expect(MonotonicClock.milliseconds(since: asyncStart) < 1000)
        }

        @Test func chainFallsBackOnFailureAndHedgesWhenTheFirstIsSlow() async throws {
            let probe = ResolverProbe()
            let failing = probe.resolver(name: "local") { host throws(DNSError) in
                throw .failed(host, resolver: "local", reason: "SERVFAIL")
            }
            // Blocked in a thread, as res_nquery would be: it cannot be cancelled, and the answer must not wait for it.
            let slow = ClosureResolver(name: "local") { host, _ throws(DNSError) in
                _ = try? await DedicatedThread.run(name: "blocked resolver") { Thread.sleep(forTimeInterval: 2) }
                throw .timedOut(host, milliseconds: 2000)
            }
            let httpDNS = probe.resolver(name: "httpdns") { _ in [IPAddress("127.0.0.9")!] }

            let fallback = ResolverChain([failing, httpDNS])
            #expect(
                try await fallback.resolve(host: "a.test", families: .ipv4Only).addresses == [IPAddress("127.0.0.9")!]
            )

            let start = MonotonicClock.nanoseconds()
            let hedged = ResolverChain([slow, httpDNS], hedgeAfter: 0.05)
            #expect(
                try await hedged.resolve(host: "b.test", families: .ipv4Only).addresses == [IPAddress("127.0.0.9")!]
            )
            let elapsed = MonotonicClock.milliseconds(since: start)
            report("resolver chain: first resolver blocked 2 s, hedged after 50 ms: answered in \(elapsed) ms")
            #expect(elapsed < 1000)

            let allFail = ResolverChain([failing, probe.resolver { host throws(DNSError) in throw .noSuchHost(host) }])
            await #expect(throws: DNSError.failed("c.test", resolver: "local", reason: "SERVFAIL")) {
                try await allFail.resolve(host: "c.test", families: .ipv4Only)
            }
            #expect(hedged.name == "local>httpdns")
        }

        /// 100 threads looking up while entries expire and refresh underneath them, with demotions: run under
        /// `make tsan` for the data-race check; here it checks the counters add up.
        @Test func hundredThreadsWithRefreshesRunning() async throws {
            let probe = ResolverProbe()
            let hosts = (0..<10).map { "h\($0).test" }
            let cache = DNSCache(
                configuration: .init(
                    resolver: probe.resolver(ttl: 0.01) { _ in [IPAddress("127.0.0.1")!, IPAddress("127.0.0.2")!] },
                    minimumTTL: 0.005,
                    refreshAhead: 0.5,
                    maximumStale: 5
                )
            )
            defer { cache.shutdown() }
            await cache.prefetch(hosts: Array(hosts.prefix(5)))
            let threads = 100
            let iterations = 300
            let failures = Atomic<Int>(0)
            let done = DispatchGroup()
            for thread in 0..<threads {
                done.enter()
                Thread {
                    for index in 0..<iterations {
                        let host = hosts[(thread + index) % hosts.count]
                        do throws(DNSError) {
                            let lookup = try cache.lookupBlocking(host: host)
                            if index % 50 == 0 { cache.demote(lookup.addresses[0], host: host) }
                        } catch {
                            failures.add(1, ordering: .relaxed)
                        }
                    }
                    done.leave()
                }.start()
            }
            try await blocking { done.wait() }
            let stats = cache.stats
            report("DNS cache, 100 threads × \(iterations) lookups: \(stats)")
            #expect(failures.load(ordering: .relaxed) == 0)
            #expect(stats.hits + stats.staleServes + stats.misses == threads * iterations)
            #expect(stats.refreshes > 0)
            #expect(stats.demotions > 0)
        }
    }
}

extension NetworkTests {
    /// Edge ranking in the DNS cache: connect times fed by hand (`recordConnectTime`), as the traces feed them, so
    /// every order and reason is exact. The end-to-end test with real slow and fast edges is `EdgeRankingTests`.
    @Suite struct DNSCacheEdgeRanking {
        static let a = IPAddress("127.0.0.11")!, b = IPAddress("127.0.0.12")!, c = IPAddress("127.0.0.13")!

        static func cache(
            demotionPeriod: Double = 60,
            lifetime: Double = 300,
            explorationInterval: Int = 0,
            metrics: (any MetricsFactory)? = nil
        ) -> DNSCache {
            DNSCache(
                configuration: .init(
                    resolver: StaticResolver(["rank.test": [a, b, c], "one.test": [a]]),
                    demotionPeriod: demotionPeriod,
                    connectTimeLifetime: lifetime,
                    explorationInterval: explorationInterval
                ),
                metricsFactory: metrics
            )
        }

        static func averages(_ choice: EdgeChoice?) -> [Double?] { choice?.candidates.map(\.averageConnectMs) ?? [] }

        @Test func theFastestWorkingAddressGoesFirstAndTheLookupSaysWhy() async throws {
            let cache = Self.cache()
            let first = try await cache.lookup(host: "rank.test")
            #expect(first.addresses == [Self.a, Self.b, Self.c])
            #expect(first.choice?.reason == .resolverOrder && first.choice?.chosen == Self.a)
            #expect(first.choice?.candidates.map(\.samples) == [0, 0, 0])

            cache.recordConnectTime(milliseconds: 50, to: Self.a, host: "rank.test")
            cache.recordConnectTime(milliseconds: 5, to: Self.b, host: "RANK.test")
            let ranked = try await cache.lookup(host: "rank.test")
            // Measured by average, then the unmeasured in the resolver's order.
            #expect(ranked.addresses == [Self.b, Self.a, Self.c])
            let choice = try #require(ranked.choice)
            #expect(choice.reason == .fastest && choice.chosen == Self.b)
            #expect(Self.averages(choice) == [5, 50, nil])
            #expect(choice.candidates.map(\.samples) == [1, 1, 0])
            #expect(choice.candidates.allSatisfy { !$0.demoted })

            // A host with one address has nothing to choose; an unknown address or host is not learned.
            #expect(try await cache.lookup(host: "one.test").choice?.reason == .onlyAddress)
            cache.recordConnectTime(milliseconds: 1, to: IPAddress("127.0.0.99")!, host: "rank.test")
            cache.recordConnectTime(milliseconds: 1, to: Self.a, host: "unknown.test")
            #expect(cache.edgeChoice(for: "rank.test")?.candidates.map(\.address) == [Self.b, Self.a, Self.c])
            #expect(cache.edgeChoice(for: "unknown.test") == nil)
            #expect(try await cache.lookup(host: "127.0.0.1").choice == nil, "a literal is not ranked")
        }

        @Test func theAverageIsExponentiallyWeightedAndForgottenAfterItsLifetime() async throws {
            let cache = Self.cache()
            _ = try await cache.lookup(host: "rank.test")
            // Smoothing 0.3 (the default): 100, then 0 → 70, then 0 → 49, then 100 → 64.3.
            var seen: [Double] = []
            for sample in [100.0, 0, 0, 100] {
                cache.recordConnectTime(milliseconds: sample, to: Self.a, host: "rank.test")
                let candidate = try #require(
                    cache.edgeChoice(for: "rank.test")?.candidates.first { $0.address == Self.a }
                )
                seen.append(try #require(candidate.averageConnectMs))
            }
            #expect(zip(seen, [100, 70, 49, 64.3]).allSatisfy { abs($0 - $1) < 1e-9 }, "\(seen)")
            #expect(cache.edgeChoice(for: "rank.test")?.candidates.first?.samples == 4)

            // Lifetime 0: nothing is remembered, so nothing is ranked.
            let forgetful = Self.cache(lifetime: 0)
            _ = try await forgetful.lookup(host: "rank.test")
            forgetful.recordConnectTime(milliseconds: 1, to: Self.c, host: "rank.test")
            let unranked = try await forgetful.lookup(host: "rank.test")
            #expect(unranked.addresses == [Self.a, Self.b, Self.c] && unranked.choice?.reason == .resolverOrder)

            // A short lifetime: the average counts until it runs out, then the address is unmeasured again.
            let short = Self.cache(lifetime: 1)
            _ = try await short.lookup(host: "rank.test")
            short.recordConnectTime(milliseconds: 1, to: Self.c, host: "rank.test")
            #expect(try await short.lookup(host: "rank.test").addresses.first == Self.c)
            try await Task.sleep(for: .milliseconds(1100))  // the scenario: the measurement ages out
            let aged = try await short.lookup(host: "rank.test")
            #expect(aged.addresses == [Self.a, Self.b, Self.c] && aged.choice?.reason == .resolverOrder)
            #expect(Self.averages(aged.choice) == [nil, nil, nil])
        }

        @Test func demotionWinsOverSpeed() async throws {
            let cache = Self.cache()
            _ = try await cache.lookup(host: "rank.test")
            cache.recordConnectTime(milliseconds: 1, to: Self.b, host: "rank.test")
            cache.recordConnectTime(milliseconds: 90, to: Self.a, host: "rank.test")
            cache.demote(Self.b, host: "rank.test")
            let slower = try await cache.lookup(host: "rank.test")
            #expect(slower.addresses == [Self.a, Self.c, Self.b], "the fastest failed: it goes last")
            #expect(slower.choice?.reason == .fastest)
            #expect(slower.choice?.candidates.map(\.demoted) == [false, false, true])
            #expect(Self.averages(slower.choice) == [90, nil, 1])

            cache.demote(Self.a, host: "rank.test")
            let only = try await cache.lookup(host: "rank.test")
            // The demoted keep the resolver's order among themselves.
            #expect(only.addresses == [Self.c, Self.a, Self.b] && only.choice?.reason == .onlyWorking)
            cache.demote(Self.c, host: "rank.test")
            let none = try await cache.lookup(host: "rank.test")
            #expect(none.addresses == [Self.a, Self.b, Self.c] && none.choice?.reason == .allDemoted)
        }

        @Test func everyNthLookupExploresTheLeastRecentlyMeasuredWorkingAddress() async throws {
            let metrics = TestMetrics()
            let cache = Self.cache(explorationInterval: 3, metrics: metrics)
            // Before anything is measured there is no ranking to explore away from: the resolver's order, always.
            for _ in 0..<3 {
                #expect(try await cache.lookup(host: "rank.test").choice?.reason == .resolverOrder)
            }
            #expect(cache.stats.explorations == 0)
            // c is measured first, so it is the least recently measured.
            cache.recordConnectTime(milliseconds: 30, to: Self.c, host: "rank.test")
            cache.recordConnectTime(milliseconds: 20, to: Self.b, host: "rank.test")
            cache.recordConnectTime(milliseconds: 10, to: Self.a, host: "rank.test")
            var orders: [[IPAddress]] = []
            var reasons: [EdgeChoice.Reason] = []
            for _ in 4...6 {
                let lookup = try await cache.lookup(host: "rank.test")
                orders.append(lookup.addresses)
                reasons.append(try #require(lookup.choice?.reason))
            }
            #expect(reasons == [.fastest, .fastest, .exploring])
            #expect(orders == [[Self.a, Self.b, Self.c], [Self.a, Self.b, Self.c], [Self.c, Self.a, Self.b]])
            // The explored open measures c: b is now the one measured least recently.
            cache.recordConnectTime(milliseconds: 30, to: Self.c, host: "rank.test")
            for _ in 7...8 { _ = try await cache.lookup(host: "rank.test") }
            let next = try await cache.lookup(host: "rank.test")
            #expect(next.choice?.reason == .exploring && next.addresses == [Self.b, Self.a, Self.c])

            // Never onto a demoted address: with b demoted, the exploration goes to c although b is older.
            cache.demote(Self.b, host: "rank.test")
            for _ in 10...11 { _ = try await cache.lookup(host: "rank.test") }
            let avoiding = try await cache.lookup(host: "rank.test")
            #expect(avoiding.choice?.reason == .exploring && avoiding.addresses == [Self.c, Self.a, Self.b])
            // Describing the ranking is not a lookup: it neither counts nor explores.
            for _ in 0..<5 { #expect(cache.edgeChoice(for: "rank.test")?.reason == .fastest) }
            #expect(cache.stats.explorations == 3)
            #expect(metrics.counterTotal(label: DNSCacheMetricNames.explorations) == 3)
        }

        @Test func rankingSettingsAreValidated() {
            #expect(throws: DNSCacheConfigurationError.invalid("connectTimeSmoothing", "must be in (0, 1]")) {
                try DNSCache.Configuration(connectTimeSmoothing: 0).validate()
            }
            #expect(throws: DNSCacheConfigurationError.invalid("connectTimeLifetime", "must be ≥ 0 s")) {
                try DNSCache.Configuration(connectTimeLifetime: -1).validate()
            }
            #expect(throws: DNSCacheConfigurationError.invalid("explorationInterval", "must be ≥ 0")) {
                try DNSCache.Configuration(explorationInterval: -1).validate()
            }
            #expect(throws: Never.self) { try DNSCache.Configuration().validate() }
        }
    }
}
