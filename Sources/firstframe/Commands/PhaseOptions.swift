import ArgumentParser

/// `--align-phase` / `--no-align-phase`, shared by `probe` and `sweep`: whether each round's opens start at a GOP
/// phase of its own (see ``PhaseSession``).
struct PhaseOptions: ParsableArguments {
    @Flag(
        inversion: .prefixedNo,
        help: ArgumentHelp(
            """
            Start each round's opens at a GOP phase of its own, spread over the GOP, watched on one extra connection \
            (default: on for sweep and for probe --repeat above 1; off: back to back, phases still reported).
            """
        )
    )
    var alignPhase: Bool?

    /// The mode for a command whose default is `alignByDefault`.
    func mode(alignByDefault: Bool) -> PhaseSession.Mode {
        switch alignPhase {
        case true?: .align
        case false?: .watch
        case nil: alignByDefault ? .align : .off
        }
    }
}
