import FirstFrame
import FirstFrameRendering
import Foundation

/// How `probe` and `sweep` place their opens in the edge's GOP, and what they say about it.
///
/// On a GOP-cache edge an open's time depends on where in the GOP it joins, and opens back to back join at nearly
/// the same phase. With a ``PhaseWatcher`` (one extra kept connection) the session knows the GOP's length and the
/// phase at any instant: when aligning, round `r` picks a target phase (``GOPClock/targetPhaseMs(round:lengthMs:)``,
/// spread over the GOP across rounds) and every open of the round sleeps until the GOP reaches it — the sleep is the
/// scenario, not synchronisation. Whatever the mode, each open's start is noted, and its phase told from the clock.
///
/// When only watching (`--no-align-phase`) the opens run back to back from the start, as without a watcher, while
/// the watcher learns the GOP alongside; the phases of opens that started before it knew are told afterwards from
/// the learned clock (a regular GOP extrapolates back), so the commands hold those opens' lines until then
/// (``isSettled``, ``settle()``).
///
/// When the watcher cannot learn a regular keyframe interval (it could not open, the stream ended, keyframes come
/// in bursts or at irregular times), the session says so and the opens run back to back, as without it.
final class PhaseSession {
    enum Mode: Sendable {
        /// No watcher: opens back to back, phases unknown (a single probe).
        case off
        /// A watcher reports each open's phase; opens back to back (`--no-align-phase`).
        case watch
        /// A watcher, and each round's opens start at the round's phase.
        case align
    }

    /// What one open met.
    struct OpenPhase: Sendable {
        /// ms after the edge's last keyframe when the open started; nil when the GOP is (not yet) known.
        var phaseMs: Double?
        /// The phase the open waited for, when aligned.
        var targetMs: Double?
        /// When the open started (`MonotonicClock`), nil without a watcher.
        var startNs: UInt64?
    }

    let mode: Mode
    private let url: String
    private let knobs: TuningKnobs
    /// The watcher, from ``begin()`` until it gives up.
    private var watcher: PhaseWatcher?
    /// Its start, when only watching (the opens do not wait for it).
    private var starting: Task<Void, Never>?
    /// Why the phases are unknown, when a watcher was wanted but could not learn the GOP.
    private(set) var unavailable: String?
    private let startNs = MonotonicClock.nanoseconds()

    init(mode: Mode, url: String, knobs: TuningKnobs) {
        self.mode = mode
        self.url = url
        self.knobs = knobs
    }

    deinit { watcher?.stop() }

    /// Starts the watcher. Aligning, it waits until the watcher knows the GOP (about two GOPs) or has given up;
    /// only watching, it returns at once (see ``settle()``).
    func begin() async {
        guard mode != .off else { return }
        var knobs = knobs
        // The watcher keeps reading after its open: a stall ends it (its phases extrapolate from then on).
        knobs.readTimeoutMs = 5000
        let watcher = PhaseWatcher(url: url, knobs: knobs)
        self.watcher = watcher
        if mode == .align {
            await watcher.start()
            await settle()
        } else {
            starting = Task { await watcher.start() }
        }
    }

    /// Waits until the watcher knows the GOP or has given up (at once when that is decided, or without one); on
    /// giving up, says so on standard error.
    func settle() async {
        guard let watcher, watcher.clock == nil else { return }
        await starting?.value
        if case .failed(let reason) = await watcher.learning() {
            watcher.stop()
            self.watcher = nil
            unavailable = "the phase watcher gave up: \(reason)"
            FileHandle.standardError.write(
                Data("GOP phase unknown (\(unavailable!)): the opens run back to back, phases not reported\n".utf8)
            )
        }
    }

    /// Whether every phase can be told now: no watcher was wanted, it gave up, or it knows the GOP.
    var isSettled: Bool { mode == .off || unavailable != nil || watcher?.clock != nil }

    /// Whether opens are started at chosen phases.
    var aligns: Bool { mode == .align && watcher?.clock != nil }

    /// The GOP's length as last measured.
    var gopMs: Double? { watcher?.clock?.lengthMs }

    /// Waits, when aligning, until the GOP reaches round `round`'s phase; then notes when the open about to start
    /// starts, and its phase when the GOP is known. Call it right before the open.
    func beforeOpen(round: Int) async throws -> OpenPhase {
        guard let watcher else { return OpenPhase() }
        var target: Double?
        if mode == .align, let clock = watcher.clock, let length = clock.lengthMs {
            let phase = GOPClock.targetPhaseMs(round: round, lengthMs: length)
            target = phase
            let now = MonotonicClock.nanoseconds()
            // At least a millisecond ahead: a target a hair behind waits for the next GOP, not for no time.
            if let instant = clock.nextInstant(ofPhaseMs: phase, notBefore: now + 1_000_000) {
                try await Task.sleep(for: .nanoseconds(Int64(instant - min(instant, MonotonicClock.nanoseconds()))))
            }
        }
        let start = MonotonicClock.nanoseconds()
        return OpenPhase(phaseMs: watcher.clock?.phaseMs(at: start), targetMs: target, startNs: start)
    }

    /// `phase` with its phase told from the clock learned since, when it was not known at the open.
    func resolved(_ phase: OpenPhase) -> OpenPhase {
        guard phase.phaseMs == nil, let start = phase.startNs, let clock = watcher?.clock else { return phase }
        var resolved = phase
        resolved.phaseMs = clock.phaseMs(at: start)
        return resolved
    }

    /// Closes the watcher's connection.
    func finish() {
        starting?.cancel()
        watcher?.stop()
    }

    /// One line saying how the opens were placed in the GOP; nil in ``Mode/off``.
    var summary: String? {
        guard mode != .off else { return nil }
        guard let gopMs else {
            return "GOP phase unknown (\(unavailable ?? "no phase watcher")): the opens ran back to back"
        }
        var line =
            String(format: "GOP %.0f ms, from the keyframes of one extra connection; ", gopMs)
            + (aligns
                ? "each round's opens started at a phase of its own, spread over the GOP"
                : "the opens ran back to back (--no-align-phase)")
        if let irregular = watcher?.clock?.irregularKeyframes, irregular > 0 {
            line +=
                "; \(irregular) keyframe\(irregular == 1 ? "" : "s") broke the GOP's rhythm (phases count from the last keyframe)"
        }
        if let ending = watcher?.ending {
            line += String(
                format: "; the watcher's connection ended %.1f s in (%@): later phases are extrapolated",
                Double(ending.atNs &- startNs) / 1e9,
                ending.reason
            )
        }
        return line
    }

    /// The share of the GOP the phases cover: 1 − the largest gap between neighbours on the circle ÷ the GOP.
    static func coverage(_ phases: [Double], gopMs: Double) -> Double {
        guard phases.count > 1 else { return 0 }
        let sorted = phases.sorted()
        var largestGap = sorted.first! + gopMs - sorted.last!
        for (a, b) in zip(sorted, sorted.dropFirst()) { largestGap = max(largestGap, b - a) }
        return max(0, 1 - largestGap / gopMs)
    }

    /// The report as one JSON line with `gopPhaseMs` (ms after the edge's last keyframe when the open started,
    /// null when unknown) and `gopMs` added, when the session watches; the report's own line otherwise.
    func jsonLine(_ report: FirstFrameReport, _ phase: OpenPhase) throws -> String {
        guard mode != .off else { return try ReportRendering.jsonLine(report) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(
            decoding: try encoder.encode(PhasedReport(report: report, phaseMs: phase.phaseMs, gopMs: gopMs)),
            as: UTF8.self
        )
    }

    /// A report's keys and two more, in one object.
    private struct PhasedReport: Encodable {
        var report: FirstFrameReport
        var phaseMs: Double?
        var gopMs: Double?

        private enum CodingKeys: String, CodingKey { case gopPhaseMs, gopMs }

        func encode(to encoder: any Encoder) throws {
            try report.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(phaseMs.map(Self.rounded), forKey: .gopPhaseMs)
            try container.encode(gopMs.map(Self.rounded), forKey: .gopMs)
        }

        static func rounded(_ value: Double) -> Double { (value * 10).rounded() / 10 }
    }
}
