import CNetworkHooks
import CNetworkHooksTesting
import FirstFrame
import Foundation

#if canImport(Glibc)
import Glibc
import FirstFrameNetwork
#endif

/// Measures what the hooks cost: per hooked call with tracing off and on, and a cached lookup next to libc's
/// `getaddrinfo("localhost")`. Behind `firstframe bench hooks`; figures come from one run, side by side.
package enum HookBenchmark {
    package struct CallCost: Sendable, Codable {
        /// `recv` on an empty non-blocking socket, straight to libc (nanoseconds per call, best batch).
        package var realCall: Double
        /// The same call through the hook on a thread that is not tracing.
        package var untraced: Double
        /// The same call through the hook while tracing (one event appended per call).
        package var traced: Double
        package var untracedOverhead: Double { untraced - realCall }
        package var tracedOverhead: Double { traced - realCall }
    }

    package struct LookupCost: Sendable, Codable {
        /// `DNSCache.lookupBlocking` on a cached host (nanoseconds).
        package var cacheHit: Double
        /// `getaddrinfo` through the hook, answered by the installed cache, plus `freeaddrinfo`.
        package var hookedGetaddrinfo: Double
        /// libc's `getaddrinfo("localhost")` plus `freeaddrinfo` (files backend, no network).
        package var systemLocalhost: Double
        /// Whether the hooked lookups really went through the hook (false where hooks are unavailable).
        package var hooked: Bool
    }

    /// Blocking; runs on the calling thread. Batches alternate between the three variants and the best batch of
    /// each counts, which removes most scheduling noise from a ~100 ns syscall.
    package static func measureCalls(iterations: Int = 400_000, batches: Int = 40) -> CallCost {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else {
            return CallCost(realCall: .nan, untraced: .nan, traced: .nan)
        }
        defer {
            close(pair[0])
            close(pair[1])
        }
        let fd = pair[0]
        let perBatch = max(1, iterations / batches)
        var byte: UInt8 = 0
        let flags = Int32(MSG_DONTWAIT)
        var best = (real: Double.infinity, untraced: Double.infinity, traced: Double.infinity)
        func time(_ body: () -> Void) -> Double {
            let start = MonotonicClock.nanoseconds()
            body()
            return Double(MonotonicClock.nanoseconds() - start) / Double(perBatch)
        }
        for _ in 0..<batches {
            best.real = min(best.real, time { for _ in 0..<perBatch { _ = cnh_real_recv(fd, &byte, 1, flags) } })
            best.untraced = min(best.untraced, time { for _ in 0..<perBatch { _ = recv(fd, &byte, 1, flags) } })
            let traced = NetworkTrace.capture(captureBytesPerTurn: 0) {
                time { for _ in 0..<perBatch { _ = recv(fd, &byte, 1, flags) } }
            }.result
            best.traced = min(best.traced, traced)
        }
        return CallCost(realCall: best.real, untraced: best.untraced, traced: best.traced)
    }

    /// Measures on a thread of its own (the caller awaits it). Installs a cache of its own for the duration (and
    /// uninstalls it): do not run it while another cache is installed.
    package static func measureLookups(iterations: Int = 100_000) async -> LookupCost {
        let cache = DNSCache(configuration: .init(resolver: StaticResolver(["bench.test": [IPAddress("127.0.0.1")!]])))
        await cache.prefetch(hosts: ["bench.test"])
        defer { cache.shutdown() }
        let result = try? await DedicatedThread.run(name: "FirstFrame.HookBenchmark") { () -> LookupCost in
            func perCall(_ count: Int, _ body: () -> Void) -> Double {
                let start = MonotonicClock.nanoseconds()
                for _ in 0..<count { body() }
                return Double(MonotonicClock.nanoseconds() - start) / Double(count)
            }
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            let hit = perCall(iterations) { _ = try? cache.lookupBlocking(host: "bench.test") }
            cache.install()
            let hooked = perCall(iterations) {
                var list: UnsafeMutablePointer<addrinfo>?
                if getaddrinfo("bench.test", "80", &hints, &list) == 0 { freeaddrinfo(list) }
            }
            DNSCache.uninstall()
            let system = perCall(max(1, iterations / 10)) {
                var list: UnsafeMutablePointer<addrinfo>?
                if cnh_real_getaddrinfo("localhost", "80", &hints, &list) == 0 { cnh_real_freeaddrinfo(list) }
            }
            return LookupCost(
                cacheHit: hit,
                hookedGetaddrinfo: hooked,
                systemLocalhost: system,
                hooked: NetworkTrace.isAvailable
            )
        }
        return result ?? LookupCost(cacheHit: .nan, hookedGetaddrinfo: .nan, systemLocalhost: .nan, hooked: false)
    }
}

// MARK: `firstframe bench hooks`

extension HookBenchmark {
    /// What `bench hooks --json` prints.
    package struct Output: Encodable {
        var hooksActive: Bool
        var calls: CallCost
        var untracedOverheadNs: Double
        var tracedOverheadNs: Double
        var lookups: LookupCost

        package init(calls: CallCost, lookups: LookupCost) {
            hooksActive = NetworkTrace.isAvailable
            self.calls = calls
            untracedOverheadNs = calls.untracedOverhead
            tracedOverheadNs = calls.tracedOverhead
            self.lookups = lookups
        }
    }

    /// Both measurements, one after the other (`progress` counts 2): `iterations` hooked calls per variant, on a
    /// thread of their own, then `lookups` lookups per variant.
    package static func measure(
        iterations: Int,
        lookups lookupIterations: Int,
        progress: some BenchmarkProgress
    ) async throws -> (calls: CallCost, lookups: LookupCost) {
        let calls = try await progress.step("hooked calls") {
            try await DedicatedThread.run(name: "bench.hooks") {
                HookBenchmark.measureCalls(iterations: iterations)
            }
        }
        progress.advance(by: 1)
        let lookups = await progress.step("lookups") {
            await HookBenchmark.measureLookups(iterations: lookupIterations)
        }
        progress.advance(by: 1)
        return (calls, lookups)
    }

    /// The figures as the command prints them.
    package static func table(calls: CallCost, lookups: LookupCost) -> String {
        func ns(_ value: Double) -> String { String(format: "%8.1f ns", value) }
        return [
            "hooks interposing libc: \(NetworkTrace.isAvailable ? "yes" : "no (stubs)")",
            "recv on an empty socket, best batch:",
            "  libc directly          \(ns(calls.realCall))",
            "  hook, tracing off      \(ns(calls.untraced))   overhead \(ns(calls.untracedOverhead))",
            "  hook, tracing on       \(ns(calls.traced))   overhead \(ns(calls.tracedOverhead))",
            "lookups:",
            "  DNSCache hit           \(ns(lookups.cacheHit))",
            "  getaddrinfo via cache  \(ns(lookups.hookedGetaddrinfo))   (incl. freeaddrinfo)",
            "  getaddrinfo localhost  \(ns(lookups.systemLocalhost))   libc, /etc/hosts",
            String(format: "  libc / cached getaddrinfo = %.1fx", lookups.systemLocalhost / lookups.hookedGetaddrinfo),
        ].joined(separator: "\n")
    }
}
