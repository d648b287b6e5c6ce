import ArgumentParser
import FirstFrame

/// `firstframe knobs` (or `firstframe help knobs`): every knob `--set` takes, with the values it accepts and what
/// it does. Kept out of `probe`, `sweep` and `record --help`, where ~60 lines of it came before their own options.
struct KnobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "knobs",
        abstract: "List the knobs --set takes (probe, sweep, record): name, values, what each does.",
        discussion: KnobOptions.knobList
    )

    func run() {
        print(KnobOptions.knobList)
    }
}
