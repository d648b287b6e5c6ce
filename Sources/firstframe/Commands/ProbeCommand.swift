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

    @Flag(help: "One JSON report per line instead of waterfalls; with --repeat, then one aggregate line.")
    var json = false

    @Option(help: ArgumentHelp("Also write the opens as one self-contained HTML page (waterfalls, causes, advice, percentiles; default: none).",
                               valueName: "file"))
    var html: String?

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeat must be at least 1") }
    }

    func run() async throws {
        FFmpegLog.level = .quiet
        let opener = try StreamOpener(knobs: try knobOptions.knobs(), presetName: knobOptions.label)
        var reports: [FirstFrameReport] = []
        try await Progress.run("probe", total: repeats) { progress in
            for index in 0..<repeats {
                let report = await progress.step("opening (\(index + 1)/\(repeats))") { await opener.report(opening: url) }
                progress.advance()
                reports.append(report)
                if json {
                    Self.emit(try ReportRendering.jsonLine(report))
                } else {
                    print(ReportRendering.waterfall(report))
                    if index + 1 < repeats { print("") }
                }
            }
        }
        if let html {
            let page = ReportPage(title: "firstframe probe \(InputPolicy.redacted(url))", sections: [.init(label: knobOptions.label, reports: reports)])
            try page.write(to: URL(fileURLWithPath: html))
            FileHandle.standardError.write(Data("wrote \(html)\n".utf8))
        }
        if repeats > 1 {
            if json {
                Self.emit(try Aggregate(reports).jsonLine())
            } else {
                print("")
                print(ReportAggregate(reports).render())
            }
        }
        if reports.allSatisfy({ $0.outcome == .failed }) { throw ExitCode(1) }
    }

    /// Prints one JSON line and flushes it: a consumer of the pipe sees each open as it ends, not at exit.
    private static func emit(_ line: String) {
        print(line)
        fflush(nil)  // every stream; naming `stdout` is not concurrency-safe in Swift 6
    }

    /// The line that ends `probe --json --repeat N`, after the N reports: `{"type":"aggregate","count":N,"ok":…,
    /// "failed":…,"firstPictureMs":{"p50":…,"p95":…,"min":…,"max":…},"stagesMs":{"dns":{…},…}}`. Percentiles are
    /// ``ReportAggregate``'s (nearest rank, over the opens that reached a picture, as the text aggregate);
    /// `firstPictureMs` is null when none did.
    struct Aggregate: Encodable {
        typealias Distribution = ReportAggregate.Distribution

        var count: Int
        var ok: Int
        var failed: Int
        var firstPictureMs: Distribution?
        var stagesMs: [String: Distribution]

        init(_ reports: [FirstFrameReport]) {
            let aggregate = ReportAggregate(reports)
            count = aggregate.opens
            failed = aggregate.failures
            ok = count - failed
            firstPictureMs = aggregate.firstVideoFrame
            stagesMs = Dictionary(uniqueKeysWithValues: aggregate.stages.map { ($0.key.rawValue, $0.value) })
        }

        private enum CodingKeys: String, CodingKey { case type, count, ok, failed, firstPictureMs, stagesMs }

        // `type` tells the line from the report lines (which carry `schema`); a missing picture is null, not absent.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode("aggregate", forKey: .type)
            try container.encode(count, forKey: .count)
            try container.encode(ok, forKey: .ok)
            try container.encode(failed, forKey: .failed)
            try container.encode(firstPictureMs, forKey: .firstPictureMs)
            try container.encode(stagesMs, forKey: .stagesMs)
        }

        func jsonLine() throws -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try encoder.encode(self), as: UTF8.self)
        }
    }
}
