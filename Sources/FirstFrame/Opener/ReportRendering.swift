import Foundation

/// Ways to show reports: a terminal waterfall, JSON Lines, and an aggregate over repeats.
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

/// p50 / p95 / max of each stage and of the first picture over repeated opens.
public struct ReportAggregate: Sendable, Codable {
    public struct Distribution: Sendable, Codable, Hashable {
        public var p50: Double
        public var p95: Double
        public var max: Double

        public init?(_ values: [Double]) {
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted()
            func percentile(_ p: Double) -> Double {
                // Nearest rank: the smallest value with at least p of the samples at or below it.
                sorted[Swift.max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1)]
            }
            p50 = percentile(0.5)
            p95 = percentile(0.95)
            max = sorted.last!
        }
    }

    public var opens: Int
    public var failures: Int
    public var firstVideoFrame: Distribution?
    public var stages: [Stage: Distribution]

    public init(_ reports: [FirstFrameReport]) {
        opens = reports.count
        let succeeded = reports.filter { $0.outcome == .ok }
        failures = reports.count - succeeded.count
        firstVideoFrame = Distribution(succeeded.compactMap(\.summary.firstVideoFrameMs))
        var stages: [Stage: Distribution] = [:]
        for stage in Stage.allCases {
            stages[stage] = Distribution(succeeded.map { $0.summary[stage] })
        }
        self.stages = stages
    }

    public func render() -> String {
        func row(_ name: String, _ distribution: Distribution?) -> String {
            guard let distribution else { return name.padding(toLength: 16, withPad: " ", startingAt: 0) + "       -" }
            return name.padding(toLength: 16, withPad: " ", startingAt: 0)
                + String(format: "%9.1f %9.1f %9.1f", distribution.p50, distribution.p95, distribution.max)
        }
        var lines = ["\(opens) opens, \(failures) failed", "stage (ms)             p50       p95       max"]
        for stage in Stage.allCases { lines.append(row(stage.rawValue, stages[stage])) }
        lines.append(row("first picture", firstVideoFrame))
        return lines.joined(separator: "\n")
    }
}
