import ArgumentParser
import FirstFrame
import Foundation

/// `firstframe sweep URL --set knob=v1,v2 …`: every combination, ranked by what the client can change — the A/B
/// tool for tuning.
struct SweepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Open a stream with every combination of knob values and rank them by what the client can change.",
        discussion: """
            Alternatives are separated by commas; for the list-valued knobs (resolve, prefetchHosts, \
            stageDeadlines) by '|'. Rounds go through the combinations in turn, so every combination sees the \
            same conditions.
            """
    )

    @Argument(help: "The stream to open.")
    var url: String

    @Option(help: "Preset the combinations start from.")
    var preset = Preset.instant.rawValue

    @Option(name: .customLong("set"), help: ArgumentHelp("Values to try for a knob (repeatable).", valueName: "knob=v1,v2,..."))
    var sweeps: [String] = []

    @Option(name: .customLong("repeat"), help: "Opens per combination.")
    var repeats = 3

    @Option(help: "Seconds before an open fails.")
    var timeout: Double = 15

    @Flag(help: "Print every report as a JSON line instead of the table.")
    var json = false

    @Option(help: ArgumentHelp("Also write every open as one self-contained HTML page: a section per combination, in the table's order.",
                               valueName: "file"))
    var html: String?

    @Option(help: ArgumentHelp("Rank by the client-attributable time (client: the first picture without network set-up, the server's response and the keyframe wait, which a live URL's GOP phase decides) or by the first picture (picture).", valueName: "client|picture"))
    var rank: SweepTable.Ranking = .client

    private static let listKnobs: Set<String> = ["resolve", "prefetchHosts", "stageDeadlines"]

    /// knob → its alternatives, in the order given.
    private func axes() throws -> [(knob: String, values: [String])] {
        try sweeps.map { sweep in
            let parts = sweep.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw ValidationError("--set expects knob=v1,v2,..., got \"\(sweep)\"") }
            let knob = String(parts[0])
            let separator: Character = Self.listKnobs.contains(knob) ? "|" : ","
            return (knob, parts[1].split(separator: separator, omittingEmptySubsequences: false).map(String.init))
        }
    }

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeat must be at least 1") }
        guard !sweeps.isEmpty else { throw ValidationError("give at least one --set knob=v1,v2,...") }
    }

    func run() async throws {
        FFmpegLog.level = .quiet
        let axes = try axes()
        // Every combination, each a list of (knob, value); built and validated before anything is opened.
        var combinations: [[(String, String)]] = [[]]
        for axis in axes {
            combinations = combinations.flatMap { combination in axis.values.map { combination + [(axis.knob, $0)] } }
        }
        var openers: [(label: String, opener: StreamOpener)] = []
        for combination in combinations {
            do throws(KnobError) {
                var knobs = try Preset(named: preset).knobs
                for (knob, value) in combination { try knobs.set(knob, value) }
                knobs.totalDeadline = timeout
                let label = combination.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
                openers.append((label, try StreamOpener(knobs: knobs, presetName: preset + "+")))
            } catch {
                throw ValidationError(error.description)
            }
        }
        var reports = Array(repeating: [FirstFrameReport](), count: openers.count)
        try await Progress.run("sweep", total: repeats * openers.count) { progress in
            for round in 1...repeats {
                for index in openers.indices {
                    let opener = openers[index].opener
                    let url = self.url
                    let report = await progress.step("round \(round)/\(repeats): \(openers[index].label)") {
                        await opener.report(opening: url)
                    }
                    progress.advance()
                    reports[index].append(report)
                    if json { print(try ReportRendering.jsonLine(report)) }
                }
            }
        }
        // Ranked as the table is: by the median client-attributable time (or first picture, when asked),
        // combinations that never reached a picture last.
        let aggregates = reports.map(ReportAggregate.init)
        let order = SweepTable.order(aggregates, by: rank)
        if let html {
            let page = ReportPage(
                title: "firstframe sweep \(InputPolicy.redacted(url)) (preset \(preset), \(repeats) open\(repeats == 1 ? "" : "s") per combination)",
                sections: order.map { ReportPage.Section(label: openers[$0].label, reports: reports[$0]) })
            try page.write(to: URL(fileURLWithPath: html))
            FileHandle.standardError.write(Data("wrote \(html)\n".utf8))
        }
        guard !json else { return }
        print(SweepTable(rows: order.map { (openers[$0].label, aggregates[$0]) }, repeats: repeats).render(ranking: rank))
    }
}
