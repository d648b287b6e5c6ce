import ArgumentParser
import FirstFrame
import FirstFrameBenchmarks
import FirstFrameFFmpeg

/// `firstframe bench record`: many channels recorded at once from an origin in its own process, each connection
/// dropped every `--drop-every` seconds; the recorder's CPU per channel-second and memory per channel, then every
/// file judged by ffprobe and a full decode, and by content (``RecordBenchmark``).
struct RecordBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Recorder cost per channel, and ffprobe and content checks of every file, with drops injected."
    )

    @Option(help: "Channels recorded at once.")
    var channels = 100

    @Option(help: "Seconds to record.")
    var seconds = 60.0

    @Option(help: "The origin drops each connection after this many seconds (0: never).")
    var dropEvery = 15.0

    @Option(help: "Join mode of the channels: gop (the edge re-sends its GOP on reconnect) or live.")
    var mode = "gop"

    @Option(
        help:
            "Container: flv or mkv (checked by content too), ts or mp4 (ffprobe only: their muxers rewrite or may shift what was sent)."
    )
    var container = "flv"

    @Option(help: "Files checked (ffprobe and a full decode, or by content) at once.")
    var checkers = 2

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func run() async throws {
        FFmpegLog.level = .quiet
        let parameters = RecordBenchmark.Parameters(
            channels: channels,
            seconds: seconds,
            dropEvery: dropEvery,
            mode: mode,
            container: container,
            checkers: checkers
        )
        let bench = try await OriginProcess.validating { try await RecordBenchmark.start(parameters) }
        defer { bench.stop() }
        let recording = await Progress.run("bench record", total: nil) { _ in await bench.record() }
        let result = await bench.check(recording)
        print(json ? try BenchmarkJSON.line(result) : RecordBenchmark.table(result, parameters: parameters))
        if !result.passed { throw ExitCode(1) }
    }
}
