import ArgumentParser
import FirstFrame
import FirstFrameBenchmarks
import FirstFrameFFmpeg

/// `firstframe bench` (`bench open`): floor, stock FFmpeg and every preset on the embedded origin
/// (``OpenBenchmark``).
struct OpenBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open",
        abstract:
            "First picture on the embedded origin (gop and live, without and with B-frames): the floor, stock FFmpeg and each preset, as ratios to the floor."
    )

    @Option(
        name: .customLong("repeat"),
        help: "Rounds per join mode; each round starts every contender at one random GOP phase."
    )
    var repeats = 5

    @Flag(help: "Print the rows as JSON.")
    var json = false

    @Option(
        help:
            "Run everything again on a stream with this many B-frames (x264's pyramid, as most live encoders send); 0: only the origin's stream as configured."
    )
    var withBFrames = 3

    @OptionGroup var origin: OriginOptions

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeat must be at least 1") }
        guard (0...16).contains(withBFrames) else { throw ValidationError("--with-b-frames must be 0…16") }
    }

    /// The origins the bench runs on: as configured, then with B-frames unless it has them already.
    private var origins: [OriginOptions] {
        var withB = origin
        withB.bFrames = withBFrames
        return withBFrames == 0 || withBFrames == origin.bFrames ? [origin] : [origin, withB]
    }

    func run() async throws {
        FFmpegLog.level = .quiet
        let repeats = self.repeats
        let origins = try self.origins.map { try $0.configuration(host: "127.0.0.1", port: 0) }
        let rows = try await Progress.run("bench", total: OpenBenchmark.opens(repeats: repeats) * origins.count) {
            progress in
            try await OpenBenchmark.run(origins: origins, repeats: repeats, progress: progress)
        }
        print(json ? try BenchmarkJSON.line(rows) : OpenBenchmark.table(rows, repeats: repeats))
    }
}
