import ArgumentParser
import FirstFrame
import FirstFrameOrigin
import Foundation
import Logging

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
        let repeats = self.repeats
        let rows = try await Progress.run("bench", total: OpenBenchmark.opens(repeats: repeats)) { progress in
            try await origin.withEmbeddedOrigin(label: "firstframe.bench") { server in
                try await progress.step("benchmarking") {
                    try await OpenBenchmark.run(origin: server, repeats: repeats, measured: { progress.advance() })
                }
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
