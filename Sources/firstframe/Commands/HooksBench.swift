import ArgumentParser
import FirstFrame
import FirstFrameOrigin
import Foundation
import Logging

/// `firstframe bench hooks`: what the network hooks add per call, and a cached lookup against libc's.
struct HooksBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hooks",
        abstract: "Cost of the libc hooks (tracing off and on) and of a DNS cache hit vs getaddrinfo(\"localhost\")."
    )

    @Option(help: "Hooked calls per variant.")
    var iterations = 2_000_000

    @Option(help: "Lookups per variant (libc's gets a tenth).")
    var lookups = 200_000

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func run() async throws {
        let (iterations, lookupIterations) = (self.iterations, self.lookups)
        let (calls, lookups) = try await Progress.run("bench hooks", total: 2, unit: "measurements") { progress in
            let calls = try await progress.step("hooked calls") {
                try await DedicatedThread.run(name: "bench.hooks") {
                    HookBenchmark.measureCalls(iterations: iterations)
                }
            }
            progress.advance()
            let lookups = await progress.step("lookups") {
                await HookBenchmark.measureLookups(iterations: lookupIterations)
            }
            progress.advance()
            return (calls, lookups)
        }
        if json {
            struct Output: Encodable {
                var hooksActive: Bool
                var calls: HookBenchmark.CallCost
                var untracedOverheadNs: Double
                var tracedOverheadNs: Double
                var lookups: HookBenchmark.LookupCost
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let output = Output(
                hooksActive: NetworkTrace.isAvailable,
                calls: calls,
                untracedOverheadNs: calls.untracedOverhead,
                tracedOverheadNs: calls.tracedOverhead,
                lookups: lookups
            )
            print(String(decoding: try encoder.encode(output), as: UTF8.self))
            return
        }
        func ns(_ value: Double) -> String { String(format: "%8.1f ns", value) }
        print("hooks interposing libc: \(NetworkTrace.isAvailable ? "yes" : "no (stubs)")")
        print("recv on an empty socket, best batch:")
        print("  libc directly          \(ns(calls.realCall))")
        print("  hook, tracing off      \(ns(calls.untraced))   overhead \(ns(calls.untracedOverhead))")
        print("  hook, tracing on       \(ns(calls.traced))   overhead \(ns(calls.tracedOverhead))")
        print("lookups:")
        print("  DNSCache hit           \(ns(lookups.cacheHit))")
        print("  getaddrinfo via cache  \(ns(lookups.hookedGetaddrinfo))   (incl. freeaddrinfo)")
        print("  getaddrinfo localhost  \(ns(lookups.systemLocalhost))   libc, /etc/hosts")
        print(
            String(format: "  libc / cached getaddrinfo = %.1fx", lookups.systemLocalhost / lookups.hookedGetaddrinfo)
        )
    }
}
