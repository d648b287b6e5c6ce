import ArgumentParser
import FirstFrame
import FirstFrameOrigin
import Foundation
import Logging

/// `firstframe bench`: figures measured side by side in one run.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks, each comparing its variants within one run.",
        subcommands: [OpenBench.self, HooksBench.self],
        defaultSubcommand: OpenBench.self
    )
}

/// `firstframe bench` (`bench open`): floor, stock FFmpeg and every preset on the embedded origin.
struct OpenBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open",
        abstract: "First picture on the embedded origin (gop and live): the floor, stock FFmpeg and each preset, as ratios to the floor."
    )

    @Option(name: .customLong("repeat"), help: "Rounds per join mode; each round starts every contender at one random GOP phase.")
    var repeats = 5

    @Flag(help: "Print the rows as JSON.")
    var json = false

    @OptionGroup var origin: OriginOptions

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeat must be at least 1") }
    }

    func run() async throws {
        FFmpegLog.level = .quiet
        let rows = try await origin.withEmbeddedOrigin(label: "firstframe.bench") { server in
            try await Progress.run("benchmarking") {
                try await OpenBenchmark.run(origin: server, repeats: repeats)
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        func ms(_ value: Double?) -> String { value.map { String(format: "%9.1f", $0) } ?? "        -" }
        func ratio(_ value: Double?) -> String { value.map { String(format: "%8.2fx", $0) } ?? "        -" }
        print("first picture, ms (\(repeats) rounds per mode; every contender of a round at the same GOP phase)")
        print("mode  contender                  p50       p95   p50/floor p95/floor  failed")
        for row in rows {
            print(row.mode.padding(toLength: 6, withPad: " ", startingAt: 0)
                + row.contender.padding(toLength: 20, withPad: " ", startingAt: 0)
                + ms(row.p50Ms) + " " + ms(row.p95Ms) + "  " + ratio(row.ratioP50) + " " + ratio(row.ratioP95)
                + String(format: "  %6d", row.failures))
        }
        let instant = "preset instant"
        if let gop = rows.first(where: { $0.mode == "gop" && $0.contender == instant }) {
            print(String(format: "target gop: instant p50 ≤ 1.25× floor: %.2fx; p95 ≤ 2× floor: %.2fx",
                         gop.ratioP50 ?? .nan, gop.ratioP95 ?? .nan))
        }
        if let live = rows.first(where: { $0.mode == "live" && $0.contender == instant }),
           let floor = rows.first(where: { $0.mode == "live" && $0.contender == "floor" }),
           let instantP50 = live.p50Ms, let floorP50 = floor.p50Ms {
            print(String(format: "target live: instant p50 ≤ keyframe arrival + one decode (the floor) + 5 ms: +%.1f ms", instantP50 - floorP50))
        }
    }
}

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
        let calls = try await DedicatedThread.run(name: "bench.hooks") { [iterations] in
            HookBenchmark.measureCalls(iterations: iterations)
        }
        let lookups = await HookBenchmark.measureLookups(iterations: lookups)
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
                hooksActive: NetworkTrace.isAvailable, calls: calls, untracedOverheadNs: calls.untracedOverhead,
                tracedOverheadNs: calls.tracedOverhead, lookups: lookups)
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
        print(String(format: "  libc / cached getaddrinfo = %.1fx", lookups.systemLocalhost / lookups.hookedGetaddrinfo))
    }
}
