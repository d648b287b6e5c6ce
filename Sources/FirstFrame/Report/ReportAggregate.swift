import Foundation

/// p50 / p95 / min / max of each stage, each cause, the first picture and its client-attributable part over repeated
/// opens. `FirstFrameRendering` prints it as a table (`render()`).
public struct ReportAggregate: Sendable, Codable {
    /// p50, p95, min and max of a set of millisecond values.
    public struct Distribution: Sendable, Codable, Hashable {
        public var p50: Double
        public var p95: Double
        public var min: Double
        public var max: Double

        public init?(_ values: [Double]) {
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted()
            p50 = Self.percentile(0.5, ofSorted: sorted)
            p95 = Self.percentile(0.95, ofSorted: sorted)
            min = sorted.first!
            max = sorted.last!
        }

        /// The one percentile definition of FirstFrame (probe, sweep, bench, load): nearest rank, the smallest
        /// value with at least `p` of the samples at or below it. `sorted` must be ascending and not empty.
        public static func percentile(_ p: Double, ofSorted sorted: [Double]) -> Double {
            sorted[Swift.min(sorted.count - 1, Swift.max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
        }
    }

    public var opens: Int
    public var failures: Int
    public var firstVideoFrame: Distribution?
    public var stages: [Stage: Distribution]
    /// Per cause (``Cause``), over the successful opens that have causes.
    public var causes: [Cause: Distribution]
    /// First picture minus network set-up, server response and keyframe wait: what a sweep on a URL it does
    /// not control ranks by.
    public var clientAttributable: Distribution?

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
        let withCauses = succeeded.compactMap(\.causes)
        var causes: [Cause: Distribution] = [:]
        for cause in Cause.allCases { causes[cause] = Distribution(withCauses.map { $0[cause] }) }
        self.causes = causes
        clientAttributable = Distribution(withCauses.compactMap(\.clientAttributableMs))
    }
}
