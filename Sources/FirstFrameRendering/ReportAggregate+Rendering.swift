import FirstFrame
import Foundation

extension ReportAggregate {
    /// The aggregate as a terminal table: p50, p95 and max of each stage, the first picture, and (when the opens
    /// have causes) each cause and the client-attributable part.
    public func render() -> String {
        func row(_ name: String, _ distribution: Distribution?) -> String {
            guard let distribution else { return name.padding(toLength: 16, withPad: " ", startingAt: 0) + "       -" }
            return name.padding(toLength: 16, withPad: " ", startingAt: 0)
                + String(format: "%9.1f %9.1f %9.1f", distribution.p50, distribution.p95, distribution.max)
        }
        var lines = ["\(opens) opens, \(failures) failed", "stage (ms)             p50       p95       max"]
        for stage in Stage.allCases { lines.append(row(stage.rawValue, stages[stage])) }
        lines.append(row("first picture", firstVideoFrame))
        if !causes.isEmpty {
            lines.append("cause (ms)")
            for cause in Cause.allCases { lines.append(row(cause.rawValue, causes[cause])) }
            lines.append(row("client part", clientAttributable))
        }
        return lines.joined(separator: "\n")
    }
}
