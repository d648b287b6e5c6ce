import ArgumentParser
import FirstFrame
import FirstFrameFFmpeg
import FirstFrameRendering
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

    @OptionGroup var phaseOptions: PhaseOptions

    @Flag(help: "One JSON report per line instead of waterfalls; with --repeat, then one aggregate line.")
    var json = false

    @Option(
        help: ArgumentHelp(
            "Also write the opens as one self-contained HTML page (waterfalls, causes, advice, percentiles; default: none).",
            valueName: "file"
        )
    )
    var html: String?

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeat must be at least 1") }
    }

    func run() async throws {
        FFmpegLog.level = .quiet
        let knobs = try knobOptions.knobs()
        let opener = try StreamOpener(knobs: knobs, presetName: knobOptions.label, logger: CommandLineLogging.opens)
        let phases = PhaseSession(mode: phaseOptions.mode(alignByDefault: repeats > 1), url: url, knobs: knobs)
        defer { phases.finish() }
        var reports: [FirstFrameReport] = []
        var met: [PhaseSession.OpenPhase] = []
        // Opens are printed in order once their phase can be told (at once, unless only watching: then from when
        // the watcher knows the GOP).
        var printed = 0
        func printSettled() throws {
            guard phases.isSettled else { return }
            while printed < reports.count {
                let index = printed
                met[index] = phases.resolved(met[index])
                if json {
                    Self.emit(try phases.jsonLine(reports[index], met[index]))
                } else {
                    print(ReportRendering.waterfall(reports[index]))
                    if let line = Self.phaseLine(met[index], gopMs: phases.gopMs) { print(line) }
                    if index + 1 < repeats { print("") }
                }
                printed += 1
            }
        }
        try await Progress.run("probe", total: repeats) { progress in
            await progress.step("learning the GOP (phase watcher)") { await phases.begin() }
            for index in 0..<repeats {
                let phase = try await progress.step("waiting for the GOP phase (\(index + 1)/\(repeats))") {
                    try await phases.beforeOpen(round: index)
                }
                let report = await progress.step("opening (\(index + 1)/\(repeats))") {
                    await opener.report(opening: url)
                }
                progress.advance()
                reports.append(report)
                met.append(phase)
                try printSettled()
            }
            await progress.step("learning the GOP (phase watcher)") { await phases.settle() }
            try printSettled()
        }
        phases.finish()
        if let html {
            let page = ReportPage(
                title: "firstframe probe \(InputPolicy.redacted(url))",
                sections: [.init(label: knobOptions.label, reports: reports)]
            )
            try page.write(to: URL(fileURLWithPath: html))
            FileHandle.standardError.write(Data("wrote \(html)\n".utf8))
        }
        let review = PhaseReview(
            settings: [
                .init(
                    label: knobOptions.label,
                    opens: zip(reports, met).map { report, phase in
                        .init(
                            phaseMs: phase.phaseMs,
                            valueMs: report.outcome == .ok ? report.summary.firstVideoFrameMs : nil
                        )
                    }
                )
            ],
            gopMs: phases.gopMs,
            aligned: phases.aligns,
            metric: "first picture"
        )
        if repeats > 1 {
            if json {
                var aggregate = Aggregate(reports)
                if phases.mode != .off {
                    aggregate.gop = .init(session: phases, phases: met)
                    aggregate.warnings = review.warnings
                    aggregate.notes = review.notes
                }
                Self.emit(try aggregate.jsonLine())
            } else {
                print("")
                print(ReportAggregate(reports).render())
                if let summary = phases.summary { print(summary) }
                if let gopMs = phases.gopMs { print(Self.phasesLine(met, gopMs: gopMs)) }
                for line in review.lines { print(line) }
            }
        } else if !json {
            for line in review.lines { print(line) }
        }
        if reports.allSatisfy({ $0.outcome == .failed }) { throw ExitCode(1) }
    }

    /// "GOP phase 688 ms (after the edge's last keyframe; GOP 2000 ms; aimed at 688)", nil when unknown.
    private static func phaseLine(_ phase: PhaseSession.OpenPhase, gopMs: Double?) -> String? {
        guard let phaseMs = phase.phaseMs, let gopMs else { return nil }
        return String(
            format: "GOP phase %.0f ms (after the edge's last keyframe; GOP %.0f ms%@)",
            phaseMs,
            gopMs,
            phase.targetMs.map { String(format: "; aimed at %.0f", $0) } ?? ""
        )
    }

    /// "GOP phases met (ms after the edge's last keyframe): 240, 1414, … — 76 % of the GOP between them".
    private static func phasesLine(_ met: [PhaseSession.OpenPhase], gopMs: Double) -> String {
        let phases = met.compactMap(\.phaseMs)
        return "GOP phases met (ms after the edge's last keyframe): "
            + phases.map { String(format: "%.0f", $0) }.joined(separator: ", ")
            + String(format: " — they cover %.0f %% of the GOP", 100 * PhaseSession.coverage(phases, gopMs: gopMs))
    }

    /// Prints one JSON line and flushes it: a consumer of the pipe sees each open as it ends, not at exit.
    private static func emit(_ line: String) {
        print(line)
        fflush(nil)  // every stream; naming `stdout` is not concurrency-safe in Swift 6
    }

    /// The line that ends `probe --json --repeat N`, after the N reports: `{"type":"aggregate","count":N,"ok":…,
    /// "failed":…,"firstPictureMs":{"p50":…,"p95":…,"min":…,"max":…},"stagesMs":{"dns":{…},…}}`. Percentiles are
    /// ``ReportAggregate``'s (nearest rank, over the opens that reached a picture, as the text aggregate);
    /// `firstPictureMs` is null when none did. With a phase watcher (``PhaseSession``) it also carries `gop`
    /// (length, aligned, each open's phase, coverage), `warnings` and `notes` (``PhaseReview``).
    struct Aggregate: Encodable {
        typealias Distribution = ReportAggregate.Distribution

        var count: Int
        var ok: Int
        var failed: Int
        var firstPictureMs: Distribution?
        var stagesMs: [String: Distribution]
        /// How the opens met the GOP (with a phase watcher): its length, whether aligned, each open's phase.
        var gop: GOP?
        /// The phase checks' lines (``PhaseReview``), with a phase watcher.
        var warnings: [String]?
        var notes: [String]?

        /// `"gop":{"lengthMs":2000,"aligned":true,"phasesMs":[240,1414,…],"coverage":0.76}`; `lengthMs` null (and the
        /// phases null) when the watcher could not learn the GOP, with `unavailable` saying why.
        struct GOP: Encodable {
            var lengthMs: Double?
            var aligned: Bool
            var phasesMs: [Double?]
            var coverage: Double?
            var unavailable: String?

            init(session: PhaseSession, phases: [PhaseSession.OpenPhase]) {
                lengthMs = session.gopMs.map { ($0 * 10).rounded() / 10 }
                aligned = session.aligns
                phasesMs = phases.map { $0.phaseMs.map { ($0 * 10).rounded() / 10 } }
                coverage = session.gopMs.map { PhaseSession.coverage(phases.compactMap(\.phaseMs), gopMs: $0) }
                unavailable = session.unavailable
            }
        }

        init(_ reports: [FirstFrameReport]) {
            let aggregate = ReportAggregate(reports)
            count = aggregate.opens
            failed = aggregate.failures
            ok = count - failed
            firstPictureMs = aggregate.firstVideoFrame
            stagesMs = Dictionary(uniqueKeysWithValues: aggregate.stages.map { ($0.key.rawValue, $0.value) })
        }

        private enum CodingKeys: String, CodingKey {
            case type, count, ok, failed, firstPictureMs, stagesMs, gop, warnings, notes
        }

        // `type` tells the line from the report lines (which carry `schema`); a missing picture is null, not absent.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode("aggregate", forKey: .type)
            try container.encode(count, forKey: .count)
            try container.encode(ok, forKey: .ok)
            try container.encode(failed, forKey: .failed)
            try container.encode(firstPictureMs, forKey: .firstPictureMs)
            try container.encode(stagesMs, forKey: .stagesMs)
            // Present only with a phase watcher: a probe without one prints the line it always did.
            try container.encodeIfPresent(gop, forKey: .gop)
            try container.encodeIfPresent(warnings, forKey: .warnings)
            try container.encodeIfPresent(notes, forKey: .notes)
        }

        func jsonLine() throws -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try encoder.encode(self), as: UTF8.self)
        }
    }
}
