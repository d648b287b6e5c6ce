import ArgumentParser
import FirstFrame
import Foundation

/// How `sweep` ranks and prints its combinations. On a live URL the sweep does not control, each open joins the
/// GOP at its own phase, so the first picture mostly measures the keyframe wait, not the knobs: combinations are
/// ranked by the client-attributable time (the first picture without network set-up, the server's response and
/// the keyframe wait), and the table shows it next to the first picture and the parts taken out.
struct SweepTable {
    enum Ranking: String, CaseIterable, ExpressibleByArgument {
        /// By the median client-attributable time (the default).
        case client
        /// By the median first picture, as the stock tools do: honest only when every open joins at the same phase.
        case picture
    }

    var rows: [(label: String, aggregate: ReportAggregate)]
    var repeats: Int

    /// The indices of `aggregates`, best first; combinations that never reached a picture last.
    static func order(_ aggregates: [ReportAggregate], by ranking: Ranking) -> [Int] {
        func key(_ aggregate: ReportAggregate) -> Double {
            switch ranking {
            case .client: aggregate.clientAttributable?.p50 ?? aggregate.firstVideoFrame.map { _ in .greatestFiniteMagnitude } ?? .infinity
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
                + "   client  client95  picture  picture95  fail  network   server  exchange kf-wait  kf-xfer  clientW   decode",
        ]
        for (label, aggregate) in rows {
            let network = aggregate.causes[.networkSetup]?.p50
            var line = label.padding(toLength: width, withPad: " ", startingAt: 0)
            line += cell(aggregate.clientAttributable?.p50) + " " + cell(aggregate.clientAttributable?.p95)
            line += cell(aggregate.firstVideoFrame?.p50) + "  " + cell(aggregate.firstVideoFrame?.p95)
            line += String(format: "  %4d", aggregate.failures)
            line += cell(network) + [Cause.serverResponse, .protocolExchange, .keyframeWait, .keyframeTransfer, .clientWait, .decode]
                .map { cell(aggregate.causes[$0]?.p50) }.joined()
            lines.append(line)
        }
        if let spread = keyframeWaitSpread, spread > 100 {
            lines.append(String(format: "the keyframe wait ranged over %.0f ms between opens (each joined the GOP at its own phase): ranking by first picture would rank that.", spread))
        }
        return lines.joined(separator: "\n")
    }

    /// The spread of the median keyframe wait across combinations: how much a first-picture ranking would be noise.
    private var keyframeWaitSpread: Double? {
        let waits = rows.compactMap { $0.aggregate.causes[.keyframeWait] }
        guard let low = waits.map(\.p50).min(), let high = waits.map(\.max).max() else { return nil }
        return high - low
    }
}
