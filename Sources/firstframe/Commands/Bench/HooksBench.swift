import ArgumentParser
import FirstFrameBenchmarks

/// `firstframe bench hooks`: what the network hooks add per call, and a cached lookup against libc's
/// (``HookBenchmark``).
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
        let (iterations, lookups) = (self.iterations, self.lookups)
        let measured = try await Progress.run("bench hooks", total: 2, unit: "measurements") { progress in
            try await HookBenchmark.measure(iterations: iterations, lookups: lookups, progress: progress)
        }
        print(
            json
                ? try BenchmarkJSON.line(HookBenchmark.Output(calls: measured.calls, lookups: measured.lookups))
                : HookBenchmark.table(calls: measured.calls, lookups: measured.lookups)
        )
    }
}
