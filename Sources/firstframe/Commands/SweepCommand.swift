import ArgumentParser
import FirstFrame
import FirstFrameFFmpeg
import FirstFrameRendering
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
            same conditions: on a live URL, one extra connection watches the GOP and every open of a round starts \
            at the round's phase, the rounds' phases spread over the GOP (--no-align-phase opens back to back). \
            The combinations are counted before anything runs: more than --max-combinations (1000 unless raised, \
            at most 1000000) is a usage error giving the count.
            """
    )

    @Argument(help: "The stream to open.")
    var url: String

    @Option(help: "Preset the combinations start from.")
    var preset = Preset.instant.rawValue

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp(
            "Values to try for a knob (repeatable, at least once). 'firstframe help knobs' lists the knobs.",
            valueName: "knob=v1,v2,..."
        )
    )
    var sweeps: [String] = []

    @Option(name: .customLong("repeat"), help: "Opens per combination, 1…10000.")
    var repeats = 3

    @OptionGroup var phaseOptions: PhaseOptions

    @Option(help: "The most combinations the sweep runs, 1…1000000; more are refused before anything opens.")
    var maxCombinations = SweepCommand.defaultMaximumCombinations

    /// Combinations a sweep runs unless `--max-combinations` raises it: a thousand, each opened `--repeat` times.
    static let defaultMaximumCombinations = 1000
    /// What `--max-combinations` may be raised to.
    static let combinationLimitRange = 1...1_000_000
    /// What `--repeat` may be.
    static let repeatRange = 1...10_000

    @Option(help: "Seconds before an open fails, in (0, 3600].")
    var timeout: Double = 15

    @Flag(
        help: "Print every report as a JSON line instead of the table, then one line with the ranking and its warnings."
    )
    var json = false

    @Option(
        help: ArgumentHelp(
            "Also write every open as one self-contained HTML page: a section per combination, in the table's order (default: none).",
            valueName: "file"
        )
    )
    var html: String?

    @Option(
        help: ArgumentHelp(
            "Rank by the client-attributable time (client: the first picture without network set-up, the server's response and the keyframe wait, which a live URL's GOP phase decides) or by the first picture (picture).",
            valueName: "client|picture"
        )
    )
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
        guard Self.repeatRange.contains(repeats) else {
            throw ValidationError("--repeat: \(repeats) is not a count in 1…10000")
        }
        guard !sweeps.isEmpty else { throw ValidationError("give at least one --set knob=v1,v2,...") }
        guard timeout.isFinite, timeout > 0, timeout <= 3600 else {
            throw ValidationError("--timeout: \(timeout) is not seconds in (0, 3600]")
        }
        guard Self.combinationLimitRange.contains(maxCombinations) else {
            throw ValidationError("--max-combinations: \(maxCombinations) is not a count in 1…1000000")
        }
        let axes = try axes()
        guard let count = Self.combinationCount(axes.map(\.values.count)), count <= maxCombinations else {
            let count = Self.combinationCount(axes.map(\.values.count)).map(String.init) ?? "more than \(Int.max)"
            throw ValidationError(
                """
                \(count) combinations (\(axes.map { "\($0.values.count)" }.joined(separator: " × "))), more than \
                --max-combinations \(maxCombinations): sweep fewer values, or raise --max-combinations (at most 1000000)
                """
            )
        }
        // Each value on its own, then every combination, before anything is opened; none is kept.
        do throws(KnobError) {
            let base = try Preset(named: preset).knobs
            for axis in axes {
                for value in axis.values {
                    var knobs = base
                    try knobs.set(axis.knob, value)
                }
            }
            for index in 0..<count { _ = try knobs(combination(index, of: axes)) }
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The number of combinations of axes of these lengths, or nil when it overflows `Int`.
    static func combinationCount(_ lengths: [Int]) -> Int? {
        var count = 1
        for length in lengths {
            let (product, overflow) = count.multipliedReportingOverflow(by: length)
            if overflow { return nil }
            count = product
        }
        return count
    }

    /// Combination `index` (the first axis changes slowest, as the table lists them), made when it is needed.
    private func combination(_ index: Int, of axes: [(knob: String, values: [String])]) -> [(String, String)] {
        var rest = index
        var picked: [(String, String)] = []
        for axis in axes.reversed() {
            picked.append((axis.knob, axis.values[rest % axis.values.count]))
            rest /= axis.values.count
        }
        return picked.reversed()
    }

    /// The preset with a combination's values applied and the sweep's deadline.
    private func knobs(_ combination: [(String, String)]) throws(KnobError) -> TuningKnobs {
        var knobs = try Preset(named: preset).knobs
        for (knob, value) in combination { try knobs.set(knob, value) }
        knobs.totalDeadline = timeout
        try knobs.validate()
        return knobs
    }

    func run() async throws {
        FFmpegLog.level = .quiet
        let axes = try axes()
        // Counted and checked in validate(); each combination's opener is made when its first open comes.
        let count = Self.combinationCount(axes.map(\.values.count)) ?? 0
        let labels = (0..<count).lazy.map { index in
            self.combination(index, of: axes).map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        }
        var openers = [StreamOpener?](repeating: nil, count: count)
        func opener(_ index: Int) throws -> StreamOpener {
            if let opener = openers[index] { return opener }
            do throws(KnobError) {
                let made = try StreamOpener(
                    knobs: knobs(combination(index, of: axes)),
                    presetName: preset + "+",
                    logger: CommandLineLogging.opens
                )
                openers[index] = made
                return made
            } catch {
                throw ValidationError(error.description)
            }
        }
        var reports = Array(repeating: [FirstFrameReport](), count: count)
        var phases = Array(repeating: [PhaseSession.OpenPhase](), count: count)
        // The watcher opens the URL as the first combination does (those knobs are about to open it anyway).
        let session = PhaseSession(mode: phaseOptions.mode(alignByDefault: true), url: url, knobs: try opener(0).knobs)
        defer { session.finish() }
        // JSON lines are printed in order once their phase can be told (at once, unless only watching).
        var waiting: [(combination: Int, round: Int)] = []
        func printSettled() throws {
            guard session.isSettled else { return }
            for (index, round) in waiting {
                phases[index][round] = session.resolved(phases[index][round])
                if json { print(try session.jsonLine(reports[index][round], phases[index][round])) }
            }
            waiting = []
        }
        try await Progress.run("sweep", total: repeats * count) { progress in
            await progress.step("learning the GOP (phase watcher)") { await session.begin() }
            for round in 1...repeats {
                for index in 0..<count {
                    let opener = try opener(index)
                    let url = self.url
                    let phase = try await progress.step("round \(round)/\(repeats): waiting for the GOP phase") {
                        try await session.beforeOpen(round: round - 1)
                    }
                    let report = await progress.step("round \(round)/\(repeats): \(labels[index])") {
                        await opener.report(opening: url)
                    }
                    progress.advance()
                    reports[index].append(report)
                    phases[index].append(phase)
                    waiting.append((index, round - 1))
                    try printSettled()
                }
            }
            await progress.step("learning the GOP (phase watcher)") { await session.settle() }
            try printSettled()
        }
        session.finish()
        // Ranked as the table is: by the median client-attributable time (or first picture, when asked),
        // combinations that never reached a picture last.
        let aggregates = reports.map(ReportAggregate.init)
        let order = SweepTable.order(aggregates, by: rank)
        if let html {
            let page = ReportPage(
                title:
                    "firstframe sweep \(InputPolicy.redacted(url)) (preset \(preset), \(repeats) open\(repeats == 1 ? "" : "s") per combination)",
                sections: order.map { ReportPage.Section(label: labels[$0], reports: reports[$0]) }
            )
            try page.write(to: URL(fileURLWithPath: html))
            FileHandle.standardError.write(Data("wrote \(html)\n".utf8))
        }
        let review = PhaseReview(
            settings: order.map { index in
                .init(
                    label: labels[index],
                    opens: zip(reports[index], phases[index]).map { report, phase in
                        .init(phaseMs: phase.phaseMs, valueMs: SweepTable.rankedValue(report, by: rank))
                    }
                )
            },
            gopMs: session.gopMs,
            aligned: session.aligns,
            metric: rank == .client ? "client-attributable time" : "first picture"
        )
        let table = SweepTable(
            rows: order.map { (labels[$0], aggregates[$0], phases[$0].map(\.phaseMs)) },
            repeats: repeats,
            phaseSummary: session.summary,
            roundTargets: phases.first?.compactMap(\.targetMs) ?? []
        )
        guard !json else {
            print(try table.rankingLine(ranking: rank, gopMs: session.gopMs, aligned: session.aligns, review: review))
            return
        }
        print(table.render(ranking: rank))
        for line in review.lines { print(line) }
    }
}
