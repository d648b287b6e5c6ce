import FirstFrame
import Foundation

/// Whether a sweep's ranking (or a probe's percentiles) compares settings or GOP phases: plain warning lines when it
/// does not, and notes that explain a spread the phase accounts for.
///
/// - **Clustered phases** (opens not aligned): when at least half of a setting's opens (and three) met the GOP
///   within a tenth of it, back-to-back opens measured one phase, not the stream.
/// - **Phase-driven spread**: when a setting's times follow the phase (Spearman's ρ over phase in [0, GOP), |ρ| ≥
///   0.8, four opens or more, a spread of at least 20 ms and a quarter of the median). Not aligned, that is a
///   warning: each setting met phases of its own. Aligned (every setting of a round started at the round's phase),
///   it is a note: the ranking compares the settings at the same phases.
/// - **Ranking**: for each pair of neighbours in the ranking, aligned, the better one must be ahead in at least 4
///   of 5 rounds (the rounds are paired: same phase); not aligned, the difference between their medians must be
///   larger than the spread (max − min) within either of them.
struct PhaseReview {
    /// One open: the phase it met (ms after the edge's last keyframe) and the time ranked, nil when it failed.
    struct Open {
        var phaseMs: Double?
        var valueMs: Double?
    }

    /// A setting's opens, in round order (round `r` of every setting started at the same phase when aligned).
    struct Setting {
        var label: String
        var opens: [Open]
    }

    /// The settings in ranked order, best first (one for `probe`).
    var settings: [Setting]
    /// The GOP length, when the watcher learned it.
    var gopMs: Double?
    /// Whether each round's opens started at the round's target phase.
    var aligned: Bool
    /// What the values are, for the lines: "first picture", "client-attributable time".
    var metric: String

    /// Warnings (`warning: …`) first, then notes (`note: …`).
    var lines: [String] { warnings + notes }

    var warnings: [String] {
        var lines: [String] = []
        if !aligned, let gopMs {
            lines += capped(settings.compactMap { clusterWarning($0, gopMs: gopMs) })
        }
        if !aligned, gopMs != nil {
            lines += capped(
                settings.compactMap { setting in
                    correlation(setting).map { phaseDriven(setting, $0, warning: true) }
                }
            )
        }
        if settings.count > 1 { lines += capped(rankingWarnings()) }
        return lines
    }

    var notes: [String] {
        guard aligned, gopMs != nil else { return [] }
        return capped(
            settings.compactMap { setting in correlation(setting).map { phaseDriven(setting, $0, warning: false) } }
        )
    }

    /// At most three lines of a kind, then how many more.
    private func capped(_ lines: [String]) -> [String] {
        lines.count <= 3 ? lines : Array(lines.prefix(3)) + ["… and \(lines.count - 3) more like it"]
    }

    private func prefix(_ setting: Setting) -> String { settings.count > 1 ? "\(setting.label): " : "" }

    // MARK: Clustered phases

    /// The opens that met the GOP within a tenth of it of each other (the largest such group, on the circle).
    static func largestCluster(_ phases: [Double], gopMs: Double) -> (count: Int, fromMs: Double, toMs: Double)? {
        guard !phases.isEmpty else { return nil }
        let sorted = phases.sorted()
        let window = 0.1 * gopMs
        var best: (count: Int, fromMs: Double, toMs: Double)?
        for (index, start) in sorted.enumerated() {
            // The phases from `start` going forward round the circle, within the window.
            var members = [start]
            for step in 1..<sorted.count {
                let next = sorted[(index + step) % sorted.count]
                let distance = next >= start ? next - start : next + gopMs - start
                guard distance <= window else { break }
                members.append(next)
            }
            if members.count > (best?.count ?? 0) { best = (members.count, start, members.last!) }
        }
        return best
    }

    private func clusterWarning(_ setting: Setting, gopMs: Double) -> String? {
        let phases = setting.opens.compactMap(\.phaseMs)
        guard phases.count >= 3, let cluster = Self.largestCluster(phases, gopMs: gopMs),
            cluster.count >= max(3, (phases.count + 1) / 2)
        else { return nil }
        let span =
            cluster.toMs >= cluster.fromMs ? cluster.toMs - cluster.fromMs : cluster.toMs + gopMs - cluster.fromMs
        let consequence =
            settings.count > 1
            ? "the ranking is not reliable: it compares the phases the settings happened to meet"
            : "these figures are that phase's, not the stream's"
        return String(
            format:
                "warning: %@%d of %d opens met the GOP within %.0f ms of each other (%.0f–%.0f ms after the edge's keyframe, GOP %.0f ms): opens back to back join at nearly the same phase, so %@; drop --no-align-phase to spread them over the GOP",
            prefix(setting),
            cluster.count,
            phases.count,
            span,
            cluster.fromMs,
            cluster.toMs,
            gopMs,
            consequence
        )
    }

    // MARK: Phase-driven spread

    /// Spearman's ρ between phase and value over the opens that have both, when the spread is worth explaining.
    private func correlation(_ setting: Setting) -> (rho: Double, count: Int, low: Double, high: Double)? {
        let pairs = setting.opens.compactMap { open in
            open.phaseMs.flatMap { phase in open.valueMs.map { (phase, $0) } }
        }
        guard pairs.count >= 4 else { return nil }
        let values = pairs.map(\.1).sorted()
        let low = values.first!
        let high = values.last!
        let median = values[(values.count - 1) / 2]
        guard high - low >= max(20, 0.25 * median), let rho = Self.spearman(pairs.map(\.0), pairs.map(\.1)),
            abs(rho) >= 0.8
        else { return nil }
        return (rho, pairs.count, low, high)
    }

    private func phaseDriven(
        _ setting: Setting,
        _ found: (rho: Double, count: Int, low: Double, high: Double),
        warning: Bool
    ) -> String {
        let head = String(
            format: "%@%@the %@ follows the GOP phase (Spearman ρ %.2f over %d opens, %.1f–%.1f ms)",
            warning ? "warning: " : "note: ",
            prefix(setting),
            metric,
            found.rho,
            found.count,
            found.low,
            found.high
        )
        if warning {
            return head
                + (settings.count > 1
                    ? ": its spread is where each open joined the GOP, and the ranking is not reliable unless every setting meets the same phases (drop --no-align-phase)"
                    : ": its spread and percentiles are where the opens joined the GOP (drop --no-align-phase to spread them evenly)")
        }
        return head
            + (settings.count > 1
                ? ": every setting met the same phases, so the ranking compares them there"
                : ": the percentiles are over phases spread across the GOP")
    }

    /// Spearman's rank correlation (average ranks for ties); nil when either side is constant.
    static func spearman(_ x: [Double], _ y: [Double]) -> Double? {
        guard x.count == y.count, x.count >= 2 else { return nil }
        let rx = ranks(x)
        let ry = ranks(y)
        let mx = rx.reduce(0, +) / Double(rx.count)
        let my = ry.reduce(0, +) / Double(ry.count)
        var covariance = 0.0
        var vx = 0.0
        var vy = 0.0
        for index in rx.indices {
            covariance += (rx[index] - mx) * (ry[index] - my)
            vx += (rx[index] - mx) * (rx[index] - mx)
            vy += (ry[index] - my) * (ry[index] - my)
        }
        guard vx > 0, vy > 0 else { return nil }
        return covariance / (vx * vy).squareRoot()
    }

    private static func ranks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count && values[order[end + 1]] == values[order[start]] { end += 1 }
            for position in start...end { ranks[order[position]] = Double(start + end) / 2 + 1 }
            start = end + 1
        }
        return ranks
    }

    // MARK: The ranking

    private func rankingWarnings() -> [String] {
        var lines: [String] = []
        for (better, worse) in zip(settings, settings.dropFirst()) {
            let a = better.opens.compactMap(\.valueMs)
            let b = worse.opens.compactMap(\.valueMs)
            guard !a.isEmpty, !b.isEmpty else { continue }
            let medianA = ReportAggregate.Distribution.percentile(0.5, ofSorted: a.sorted())
            let medianB = ReportAggregate.Distribution.percentile(0.5, ofSorted: b.sorted())
            if aligned {
                let rounds = zip(better.opens, worse.opens).compactMap { x, y in
                    x.valueMs.flatMap { v in y.valueMs.map { (v, $0) } }
                }
                guard !rounds.isEmpty else { continue }
                let ahead = rounds.reduce(0.0) { $0 + ($1.0 < $1.1 ? 1 : $1.0 == $1.1 ? 0.5 : 0) }
                guard ahead < 0.8 * Double(rounds.count) else { continue }
                lines.append(
                    String(
                        format:
                            "warning: the ranking is not reliable between %@ and %@: started at the same GOP phase, the first was ahead in only %@ of %d rounds (medians %.1f and %.1f ms)",
                        better.label,
                        worse.label,
                        Self.count(ahead),
                        rounds.count,
                        medianA,
                        medianB
                    )
                )
            } else {
                let spread = max(a.max()! - a.min()!, b.max()! - b.min()!)
                let difference = medianB - medianA
                guard spread > difference else { continue }
                lines.append(
                    String(
                        format:
                            "warning: the ranking is not reliable between %@ and %@: the times within a setting spread over up to %.1f ms, more than the %.1f ms between their medians%@",
                        better.label,
                        worse.label,
                        spread,
                        difference,
                        gopMs == nil ? "" : " (the opens met the GOP at phases of their own: drop --no-align-phase)"
                    )
                )
            }
        }
        return lines
    }

    private static func count(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }
}
