import CoreMetrics
import FirstFrameNetwork

/// One open's report as swift-metrics series (``MetricNames``): timers per stage and per cause, the first picture
/// and its client-attributable part, and counters of opens, failures, lookups, connect attempts and advice.
///
/// Series are looked up in the factory per report (as any swift-metrics library does per request): the labels
/// depend on the report. Counters of one label set are summed first, so each series costs one call.
struct ReportMetrics {
    let factory: any MetricsFactory
    let labels: ReportLabels

    func record(_ report: FirstFrameReport) {
        let base = labels.dimensions
        let withOutcome = base + [(MetricNames.Label.outcome, report.outcome.rawValue)]

        let happened = Set(report.stages.map(\.name))
        for stage in Stage.allCases where happened.contains(stage) {
            timer(MetricNames.stageSeconds, [(MetricNames.Label.stage, stage.rawValue)] + withOutcome)
                .recordNanoseconds(Self.nanoseconds(report.summary[stage]))
        }
        if let causes = report.causes {
            for cause in Cause.allCases {
                timer(MetricNames.causeSeconds, [(MetricNames.Label.cause, cause.rawValue)] + withOutcome)
                    .recordNanoseconds(Self.nanoseconds(causes[cause]))
            }
            if let client = causes.clientAttributableMs {
                timer(MetricNames.clientAttributableSeconds, base).recordNanoseconds(Self.nanoseconds(client))
            }
        }
        if let picture = report.summary.firstVideoFrameMs {
            timer(MetricNames.firstPictureSeconds, base).recordNanoseconds(Self.nanoseconds(picture))
        }

        if let floor = report.floor {
            // On a real link (no floor on loopback): how far from the least its path allowed, and in what.
            timer(MetricNames.floorSeconds, base).recordNanoseconds(Self.nanoseconds(floor.floorMs))
            timer(MetricNames.pathRTTSeconds, base).recordNanoseconds(Self.nanoseconds(floor.rttMs))
            if let ratio = floor.ratio {
                CoreMetrics.Recorder(label: MetricNames.floorRatio, dimensions: base, factory: factory).record(ratio)
            }
            CoreMetrics.Recorder(label: MetricNames.excessRoundTrips, dimensions: base, factory: factory)
                .record(floor.excessRoundTrips)
        }

        Counter(label: MetricNames.opens, dimensions: withOutcome, factory: factory).increment()
        if let error = report.error {
            let dimensions =
                [(MetricNames.Label.stage, error.stage.rawValue), (MetricNames.Label.kind, error.kind.rawValue)] + base
            Counter(label: MetricNames.failures, dimensions: dimensions, factory: factory).increment()
        }

        var lookups: [DomainLookup.Source: Int] = [:]
        var attempts: [ConnectAttempt.Outcome: Int] = [:]
        for hop in report.hops {
            if let lookup = hop.dns { lookups[lookup.source, default: 0] += 1 }
            for attempt in hop.connects { attempts[attempt.outcome, default: 0] += 1 }
        }
        for (source, count) in lookups {
            Counter(
                label: MetricNames.dnsLookups,
                dimensions: [(MetricNames.Label.source, source.rawValue)] + withOutcome,
                factory: factory
            )
            .increment(by: count)
        }
        for (outcome, count) in attempts {
            Counter(
                label: MetricNames.connectAttempts,
                dimensions: [(MetricNames.Label.outcome, outcome.rawValue)] + base,
                factory: factory
            )
            .increment(by: count)
        }
        var remedies: [FirstFrameReport.Advice.Remedy: Int] = [:]
        for advice in report.advice { remedies[advice.remedy, default: 0] += 1 }
        for (remedy, count) in remedies {
            Counter(
                label: MetricNames.advice,
                dimensions: [(MetricNames.Label.remedy, remedy.rawValue)] + withOutcome,
                factory: factory
            )
            .increment(by: count)
        }
    }

    private func timer(_ label: String, _ dimensions: [(String, String)]) -> Timer {
        Timer(label: label, dimensions: dimensions, preferredDisplayUnit: .seconds, factory: factory)
    }

    /// The report's milliseconds as the timer's nanoseconds (rounded; never negative).
    static func nanoseconds(_ ms: Double) -> Int64 {
        guard ms.isFinite, ms > 0 else { return 0 }
        return ms >= Double(Int64.max) / 1e6 ? .max : Int64((ms * 1e6).rounded())
    }
}
