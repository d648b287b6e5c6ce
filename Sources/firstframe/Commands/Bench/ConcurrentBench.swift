import ArgumentParser
import FirstFrame
import FirstFrameBenchmarks
import FirstFrameFFmpeg

/// `firstframe bench concurrent`: many opens at once against an origin in its own process, against their CPU
/// bound measured in the same run (``ConcurrentBenchmark``).
struct ConcurrentBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concurrent",
        abstract:
            "Many opens at once (origin in its own process) against their CPU bound: opens × CPU per open ÷ cores."
    )

    @Option(help: "Opens started at once in each round.")
    var opens = 100

    @Option(help: "Rounds of concurrent opens.")
    var rounds = 3

    @Option(help: "Opens one at a time that measure the CPU per open.")
    var sequential = 40

    @Option(help: "Preset of every open.")
    var preset: Preset = .instant

    @Option(help: "Join mode: gop (the keyframe at once: the open is all CPU and loopback) or live.")
    var mode = "gop"

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard opens >= 1, rounds >= 1, sequential >= 1 else {
            throw ValidationError("--opens, --rounds and --sequential must be positive")
        }
        guard ["gop", "live"].contains(mode) else { throw ValidationError("--mode is gop or live") }
    }

    func run() async throws {
        FFmpegLog.level = .quiet
        let parameters = ConcurrentBenchmark.Parameters(
            opens: opens,
            rounds: rounds,
            sequential: sequential,
            preset: preset,
            mode: mode
        )
        let result = try await OriginProcess.validating { try await ConcurrentBenchmark.run(parameters) }
        print(json ? try BenchmarkJSON.line(result) : ConcurrentBenchmark.table(result, parameters: parameters))
    }
}

extension Preset: ExpressibleByArgument {}
