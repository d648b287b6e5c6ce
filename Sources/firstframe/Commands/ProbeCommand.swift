import ArgumentParser
import FirstFrame
import Foundation

/// `firstframe probe URL`: open to the first picture, show the waterfall (or JSON Lines), repeat and aggregate.
struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Open a stream to its first picture and show where the time went."
    )

    @Argument(help: "http(s)://, rtmp://, an HLS playlist, or a file.")
    var url: String

    @OptionGroup var knobOptions: KnobOptions

    @Option(name: .customLong("repeat"), help: "Opens in a row; more than one prints the p50/p95/max aggregate.")
    var repeats = 1

    @Flag(help: "One JSON report per line instead of waterfalls.")
    var json = false

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeat must be at least 1") }
    }

    func run() async throws {
        FFmpegLog.level = .quiet
        let opener = try StreamOpener(knobs: try knobOptions.knobs(), presetName: knobOptions.label)
        var reports: [FirstFrameReport] = []
        for index in 0..<repeats {
            let report = await Progress.run("opening (\(index + 1)/\(repeats))") { await opener.report(opening: url) }
            reports.append(report)
            if json {
                print(try ReportRendering.jsonLine(report))
            } else {
                print(ReportRendering.waterfall(report))
                if index + 1 < repeats { print("") }
            }
        }
        if repeats > 1, !json {
            print("")
            print(ReportAggregate(reports).render())
        }
        if reports.allSatisfy({ $0.outcome == .failed }) { throw ExitCode(1) }
    }
}
