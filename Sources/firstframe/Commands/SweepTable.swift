import ArgumentParser
import FirstFrame
import Foundation

/// How `sweep` ranks and prints its combinations. On a live URL the sweep does not control, each open joins the
/// GOP at its own phase, so the first picture mostly measures the keyframe wait, not the knobs: combinations are
/// ranked by the client-attributable time (the first picture without network set-up, the server's response and
/// the keyframe wait), and the table shows it next to the first picture and the parts taken out. With a phase
/// watcher (``PhaseSession``) every open of a round started at the round's GOP phase, and each row lists the
/// phases its opens met.
struct SweepTable {
    enum Ranking: String, CaseIterable, ExpressibleByArgument {
        /// By the median client-attributable time (the default).
        case client
        /// By the median first picture, as the stock tools do: honest only when every open joins at the same phase.
        case picture
    }

    var rows: [(label: String, aggregate: ReportAggregate, phasesMs: [Double?])]
    var repeats: Int
    /// How the opens met the GOP (``PhaseSession/summary``), nil without a phase watcher.
    var phaseSummary: String? = nil
    /// The phase each round aimed at, when aligned.
    var roundTargets: [Double] = []

    /// Phases a row lists one by one; more are summarised as a range.
    static let listedPhases = 8

    /// The value an open is ranked by: its client-attributable time or first picture; nil when it failed.
    static func rankedValue(_ report: FirstFrameReport, by ranking: Ranking) -> Double? {
        guard report.outcome == .ok else { return nil }
        switch ranking {
        case .client: return report.causes?.clientAttributableMs
        case .picture: return report.summary.firstVideoFrameMs
        }
    }

    /// The indices of `aggregates`, best first; combinations that never reached a picture last.
    static func order(_ aggregates: [ReportAggregate], by ranking: Ranking) -> [Int] {
        func key(_ aggregate: ReportAggregate) -> Double {
            switch ranking {
            case .client:
                aggregate.clientAttributable?.p50 ?? aggregate.firstVideoFrame.map { _ in .greatestFiniteMagnitude }
                    ?? .infinity
            case .picture: aggregate.firstVideoFrame?.p50 ?? .infinity
            }
        }
        return aggregates.indices.sorted { key(aggregates[$0]) < key(aggregates[$1]) }
    }

    func render(ranking: Ranking) -> String {
        let width = max(12, rows.map(\.label.count).max() ?? 0) + 2
        func cell(_ value: Double?) -> String { value.map { String(format: "%9.1f", $0) } ?? "        -" }
        var lines = [
            "ranked by \(ranking == .client ? "client-attributable time (first picture without network set-up, server response and keyframe wait)" : "first picture")"
                + ", best first; \(repeats) open\(repeats == 1 ? "" : "s") each; ms, medians unless marked p95",
            "combination".padding(toLength: width, withPad: " ", startingAt: 0)
                + "   client  client95  picture  picture95  fail  network   server  exchange kf-wait  kf-xfer  clientW   decode"
                + (phaseSummary == nil ? "" : "  GOP phases met (ms)"),
        ]
        if let phaseSummary {
            var line = phaseSummary
            if !roundTargets.isEmpty {
                line +=
                    "; rounds aimed at " + roundTargets.map { String(format: "%.0f", $0) }.joined(separator: ", ")
                    + " ms"
            }
            lines.insert(line, at: 1)
        }
        for (label, aggregate, phases) in rows {
            let network = aggregate.causes[.networkSetup]?.p50
            var line = label.padding(toLength: width, withPad: " ", startingAt: 0)
            line += cell(aggregate.clientAttributable?.p50) + " " + cell(aggregate.clientAttributable?.p95)
            line += cell(aggregate.firstVideoFrame?.p50) + "  " + cell(aggregate.firstVideoFrame?.p95)
            line += String(format: "  %4d", aggregate.failures)
            line +=
                cell(network)
                + [Cause.serverResponse, .protocolExchange, .keyframeWait, .keyframeTransfer, .clientWait, .decode]
                .map { cell(aggregate.causes[$0]?.p50) }.joined()
            if phaseSummary != nil { line += "  " + Self.phaseCell(phases) }
            lines.append(line)
        }
        if let spread = keyframeWaitSpread, spread > 100 {
            lines.append(
                String(
                    format:
                        "the keyframe wait ranged over %.0f ms between opens (they joined the GOP at different phases): ranking by first picture would rank that.",
                    spread
                )
            )
        }
        return lines.joined(separator: "\n")
    }

    /// A row's phases in round order ("240 1414 688"), or their range past ``listedPhases``; "-" for unknown.
    static func phaseCell(_ phases: [Double?]) -> String {
        let known = phases.compactMap { $0 }
        guard !known.isEmpty else { return "-" }
        if phases.count <= listedPhases {
            return phases.map { $0.map { String(format: "%.0f", $0) } ?? "-" }.joined(separator: " ")
        }
        return String(format: "%.0f–%.0f (%d opens)", known.min()!, known.max()!, known.count)
    }

    /// The line `sweep --json` ends with: `{"type":"ranking","rankedBy":"client","gopMs":2000,"aligned":true,
    /// "combinations":[{"combination":"fpsprobesize=0","p50Ms":8.1,"phasesMs":[240,1414,688]},…],"warnings":[…],
    /// "notes":[…]}`, best first; `p50Ms` is null for a combination that never reached a picture.
    func rankingLine(ranking: Ranking, gopMs: Double?, aligned: Bool, review: PhaseReview) throws -> String {
        struct Line: Encodable {
            struct Combination: Encodable {
                var combination: String
                var p50Ms: Double?
                var failures: Int
                var phasesMs: [Double?]
            }
            var type = "ranking"
            var rankedBy: String
            var gopMs: Double?
            var aligned: Bool
            var combinations: [Combination]
            var warnings: [String]
            var notes: [String]

            private enum CodingKeys: String, CodingKey {
                case type, rankedBy, gopMs, aligned, combinations, warnings, notes
            }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(type, forKey: .type)
                try container.encode(rankedBy, forKey: .rankedBy)
                try container.encode(gopMs, forKey: .gopMs)
                try container.encode(aligned, forKey: .aligned)
                try container.encode(combinations, forKey: .combinations)
                try container.encode(warnings, forKey: .warnings)
                try container.encode(notes, forKey: .notes)
            }
        }
        func rounded(_ value: Double) -> Double { (value * 10).rounded() / 10 }
        let line = Line(
            rankedBy: ranking.rawValue,
            gopMs: gopMs.map(rounded),
            aligned: aligned,
            combinations: rows.map { row in
                Line.Combination(
                    combination: row.label,
                    p50Ms: (ranking == .client
                        ? row.aggregate.clientAttributable?.p50 : row.aggregate.firstVideoFrame?.p50).map(rounded),
                    failures: row.aggregate.failures,
                    phasesMs: row.phasesMs.map { $0.map(rounded) }
                )
            },
            warnings: review.warnings,
            notes: review.notes
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(line), as: UTF8.self)
    }

    /// The spread of the median keyframe wait across combinations: how much a first-picture ranking would be noise.
    private var keyframeWaitSpread: Double? {
        let waits = rows.compactMap { $0.aggregate.causes[.keyframeWait] }
        guard let low = waits.map(\.p50).min(), let high = waits.map(\.max).max() else { return nil }
        return high - low
    }
}
