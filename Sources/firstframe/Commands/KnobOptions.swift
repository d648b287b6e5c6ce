import ArgumentParser
import FirstFrame
import Foundation

/// Knob options shared by `probe` and `sweep`: a preset, then changes to it.
struct KnobOptions: ParsableArguments {
    @Option(help: "Preset to start from: \(Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset = Preset.instant.rawValue

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp(
            "Change a knob: knob=value (repeatable; none by default). 'firstframe help knobs' lists every knob, its values and what it does.",
            valueName: "knob=value"
        )
    )
    var settings: [String] = []

    /// One line per knob, read from ``TuningKnobs/descriptors``: its name, the values it takes, and what it does.
    static var knobList: String {
        TuningKnobs.descriptors.map { "\($0.name): \($0.rule) — \($0.doc)" }.joined(separator: "\n")
    }

    @Option(
        help: ArgumentHelp(
            "Answer lookups of host with these addresses, like curl (repeatable; none by default).",
            valueName: "host=ip[,ip]"
        )
    )
    var resolve: [String] = []

    @Option(
        help: ArgumentHelp(
            "Resolve host before the first open and keep it fresh (repeatable; none by default).",
            valueName: "host"
        )
    )
    var prefetch: [String] = []

    @Option(help: "Seconds before an open fails, in (0, 3600] (the totalDeadline knob; default: the preset's, 15).")
    var timeout: Double?

    /// The preset with every change applied; errors name the knob.
    func knobs() throws -> TuningKnobs {
        do {
            var knobs = try Preset(named: preset).knobs
            for setting in settings {
                // `knob=` is a value: the empty one (format= probes, caFile= uses the system's bundle).
                let parts = setting.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
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
            if let timeout {
                do throws(KnobError) { try knobs.set("totalDeadline", String(timeout)) } catch {
                    throw ValidationError("--timeout: \(timeout) is not seconds in (0, 3600]")
                }
            }
            return knobs
        } catch let error as KnobError {
            throw ValidationError(error.description)
        }
    }

    /// Every knob change is checked before the command runs: a bad value is a usage error naming it (exit 64).
    func validate() throws { _ = try knobs() }

    /// "instant", or "instant+" when knobs were changed.
    var label: String {
        settings.isEmpty && resolve.isEmpty && prefetch.isEmpty && timeout == nil ? preset : preset + "+"
    }
}
