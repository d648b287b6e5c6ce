import Foundation

/// Ways to show reports: a terminal waterfall and JSON Lines (``ReportAggregate`` renders the aggregate over repeats).
public enum ReportRendering {
    /// One bar per stage, placed and scaled on the open's timeline, with its milliseconds.
    ///
    /// ```
    /// dns           ▏                                          0.2 ms
    /// httpResponse  ▕█                                         1.3 ms
    /// ```
    public static func waterfall(_ report: FirstFrameReport, width: Int = 48) -> String {
        let total = max(report.stages.last?.endMs ?? 0, 0.001)
        var lines: [String] = []
        let title = report.outcome == .ok
            ? String(format: "%@  first picture %.1f ms", report.url, report.summary.firstVideoFrameMs ?? 0)
            : "\(report.url)  FAILED in \(report.error?.stage.rawValue ?? "?"): \(report.error?.kind.rawValue ?? "?"): \(report.error?.message ?? "")"
        lines.append(title + (report.preset.map { "  [\($0)]" } ?? ""))
        for span in report.stages {
            let from = Int((span.startMs / total * Double(width)).rounded(.down))
            let length = max(1, Int((span.durationMs / total * Double(width)).rounded()))
            let bar = String(repeating: " ", count: min(from, width - 1))
                + String(repeating: "█", count: min(length, width - min(from, width - 1)))
            let name = span.name.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)
            lines.append("\(name) \(bar.padding(toLength: width, withPad: " ", startingAt: 0)) "
                + String(format: "%8.1f ms", span.durationMs))
        }
        let milestones = report.milestones
        let marks = [("first byte", milestones.firstByteMs), ("keyframe", milestones.firstKeyframeMs),
                     ("picture", milestones.firstVideoFrameMs), ("audio", milestones.firstAudioFrameMs)]
            .compactMap { name, value in value.map { String(format: "%@ %.1f", name, $0) } }
        if !marks.isEmpty { lines.append("milestones (ms): " + marks.joined(separator: ", ")) }
        for (index, hop) in report.hops.enumerated() where report.hops.count > 1 || hop.redirectTo != nil {
            lines.append("hop \(index): \(hop.url ?? hop.host ?? "?") → \(hop.status.map(String.init) ?? "-")"
                + (hop.redirectTo.map { " → \($0)" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }

    /// The report as one line of JSON (camelCase keys, sorted for stable diffs).
    public static func jsonLine(_ report: FirstFrameReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }
}
