import ArgumentParser
import FirstFrame
import FirstFrameBenchmarks
import FirstFrameFFmpeg
import Foundation

/// `firstframe bench rtmp <url>`: RTMP's command exchange with and without the client's Nagle and delayed-ACK
/// waits, against a real RTMP server on loopback (``RTMPBenchmark``).
struct RTMPBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtmp",
        abstract:
            "RTMP open against a loopback server: connect→first media message, Play.Start, stalls; stock vs tcp_nodelay, quickAck, instant."
    )

    @Argument(help: "A loopback RTMP URL, e.g. rtmp://127.0.0.1:1935/live/room")
    var url: String

    @Option(name: .customLong("repeat"), help: "Rounds; each round opens every variant once, in turn.")
    var repeats = 10

    @Flag(help: "Print the rows as JSON.")
    var json = false

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeat must be at least 1") }
        guard let components = URLComponents(string: url), components.scheme == "rtmp", let host = components.host
        else {
            throw ValidationError("an rtmp:// URL is required")
        }
        guard LoopbackHost.contains(host) else {
            throw ValidationError("the RTMP bench runs against loopback only (127.0.0.0/8, ::1, localhost)")
        }
    }

    func run() async throws {
        FFmpegLog.level = .quiet
        let (url, repeats) = (self.url, self.repeats)
        let rows = try await Progress.run("bench rtmp", total: repeats * RTMPBenchmark.Variant.all.count) {
            progress in
            try await RTMPBenchmark.run(url: url, repeats: repeats, progress: progress)
        }
        print(json ? try BenchmarkJSON.line(rows) : RTMPBenchmark.table(rows, repeats: repeats))
    }
}
