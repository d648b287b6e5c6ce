import ArgumentParser
import FirstFrame
import FirstFrameOrigin
import Foundation
import Logging

/// `firstframe bench` (`bench open`): floor, stock FFmpeg and every preset on the embedded origin.
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
        let origins = self.origins
        let rows = try await Progress.run("bench", total: OpenBenchmark.opens(repeats: repeats) * origins.count) {
            progress in
            var rows: [OpenBenchmark.Row] = []
            for origin in origins {
                rows += try await origin.withEmbeddedOrigin(label: "firstframe.bench") { server in
                    try await progress.step("benchmarking bframes=\(origin.bFrames)") {
                        try await OpenBenchmark.run(origin: server, repeats: repeats, measured: { progress.advance() })
                    }
                }
            }
            return rows
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        func ms(_ value: Double?) -> String { value.map { String(format: "%9.1f", $0) } ?? "        -" }
        func ratio(_ value: Double?) -> String { value.map { String(format: "%8.2fx", $0) } ?? "        -" }
        print("first picture, ms (\(repeats) rounds per mode; every contender of a round at the same GOP phase);")
        print("key→pic: the first keyframe's last byte → the picture (the floor's: one decode)")
        print(
            "stream     mode  contender                 p50       p95   p50/floor p95/floor  key→pic p50    p95  failed"
        )
        for row in rows {
            print(
                row.stream.padding(toLength: 11, withPad: " ", startingAt: 0)
                    + row.mode.padding(toLength: 6, withPad: " ", startingAt: 0)
                    + row.contender.padding(toLength: 20, withPad: " ", startingAt: 0)
                    + ms(row.p50Ms) + " " + ms(row.p95Ms) + "  " + ratio(row.ratioP50) + " " + ratio(row.ratioP95)
                    + "  " + ms(row.keyToPictureP50Ms) + ms(row.keyToPictureP95Ms)
                    + String(format: "  %6d", row.failures)
            )
        }
        let instant = "preset instant"
        for stream in Array(Set(rows.map(\.stream))).sorted() {
            let rows = rows.filter { $0.stream == stream }
            if let gop = rows.first(where: { $0.mode == "gop" && $0.contender == instant }) {
                print(
                    String(
                        format: "target gop (%@): instant p50 ≤ 1.25× floor: %.2fx; p95 ≤ 2× floor: %.2fx",
                        stream,
                        gop.ratioP50 ?? .nan,
                        gop.ratioP95 ?? .nan
                    )
                )
            }
            if let live = rows.first(where: { $0.mode == "live" && $0.contender == instant }),
                let floor = rows.first(where: { $0.mode == "live" && $0.contender == "floor" }),
                let instantP50 = live.p50Ms, let floorP50 = floor.p50Ms
            {
                print(
                    String(
                        format:
                            "target live (%@): instant p50 ≤ keyframe arrival + one decode (the floor) + 5 ms: +%.1f ms",
                        stream,
                        instantP50 - floorP50
                    )
                )
            }
            // Both modes: keyframe arrival → picture against one decode of it, measured in the same run.
            let instantKey = rows.filter { $0.contender == instant }.flatMap(\.keyToPictureMs)
            let decodes = rows.filter { $0.contender == "floor" }.flatMap(\.keyToPictureMs)
            if let key = ReportAggregate.Distribution(instantKey), let decode = ReportAggregate.Distribution(decodes) {
                print(
                    String(
                        format:
                            "target decode (%@): instant key→picture ≤ one decode + 3 ms: p50 %.1f ms, p95 %.1f ms against one decode p50 %.1f ms (+%.1f / +%.1f ms)",
                        stream,
                        key.p50,
                        key.p95,
                        decode.p50,
                        key.p50 - decode.p50,
                        key.p95 - decode.p50
                    )
                )
            }
        }
    }
}
