import ArgumentParser
import FirstFrame
import Foundation

/// Knob options shared by `probe` and `sweep`: a preset, then changes to it.
struct KnobOptions: ParsableArguments {
    @Option(help: "Preset to start from: \(Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset = Preset.instant.rawValue

    @Option(name: .customLong("set"), help: ArgumentHelp("Change a knob: knob=value (repeatable).", valueName: "knob=value"))
    var settings: [String] = []

    @Option(help: ArgumentHelp("Answer lookups of host with these addresses, like curl (repeatable).", valueName: "host=ip[,ip]"))
    var resolve: [String] = []

    @Option(help: ArgumentHelp("Resolve host before the first open and keep it fresh (repeatable).", valueName: "host"))
    var prefetch: [String] = []

    @Option(help: "Seconds before an open fails (the totalDeadline knob).")
    var timeout: Double?

    /// The preset with every change applied; errors name the knob.
    func knobs() throws -> TuningKnobs {
        do {
            var knobs = try Preset(named: preset).knobs
            for setting in settings {
                let parts = setting.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { throw ValidationError("--set expects knob=value, got \"\(setting)\"") }
                try knobs.set(String(parts[0]), String(parts[1]))
            }
            if !resolve.isEmpty {
                var table = knobs.resolve
                var probe = TuningKnobs()
                try probe.set("resolve", resolve.joined(separator: ";"))
                table.merge(probe.resolve) { $0 + $1 }
                knobs.resolve = table
            }
            knobs.prefetchHosts += prefetch
            if let timeout { try knobs.set("totalDeadline", String(timeout)) }
            return knobs
        } catch let error as KnobError {
            throw ValidationError(error.description)
        }
    }

    /// "instant", or "instant+" when knobs were changed.
    var label: String { settings.isEmpty && resolve.isEmpty && prefetch.isEmpty && timeout == nil ? preset : preset + "+" }
}

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
