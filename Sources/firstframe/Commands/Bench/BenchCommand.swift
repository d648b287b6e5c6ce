import ArgumentParser
import FirstFrameBenchmarks

/// `firstframe bench`: figures measured side by side in one run. Each subcommand is a front (its options, its
/// progress on standard error, what it prints) to a benchmark of `FirstFrameBenchmarks`.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks, each comparing its variants within one run.",
        subcommands: [
            OpenBench.self, HooksBench.self, RecordBench.self, RTMPBench.self, ConcurrentBench.self, NetworkBench.self,
        ],
        defaultSubcommand: OpenBench.self
    )
}

/// The CLI's progress line is what the benchmarks report to.
extension Progress: BenchmarkProgress {}

extension OriginProcess {
    /// Runs `body`; an origin process that does not start listening is a usage error, as the command reports it.
    static func validating<Result>(_ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let failure as OriginProcess.Failure {
            throw ValidationError(failure.description)
        }
    }
}
