import FirstFrame
import Prometheus

/// What `/probe` answers: the series of one open, in the Prometheus text format, from a registry of its own (as
/// blackbox_exporter does: every scrape of `/probe` is one probe, and nothing of it outlives the answer).
///
/// Seconds, as Prometheus wants them (the report's milliseconds / 1000). A value the open did not reach is left
/// out rather than written as 0: `firstframe_probe_first_picture_seconds` and the causes are absent when the open
/// failed, `firstframe_probe_http_status_code` when no response came.
package enum ProbeExposition {
    /// The text for `report`, whose probe took `durationSeconds` of wall time in the exporter.
    package static func render(_ report: FirstFrameReport, durationSeconds: Double) -> [UInt8] {
        let registry = PrometheusCollectorRegistry()
        func gauge(_ name: String, _ unit: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    namespace: "firstframe",
                    subsystem: "probe",
                    metricName: name,
                    unitName: unit,
                    helpText: help
                ),
                labels: labels
            )
        }

        gauge("success", "", "1 when the open reached its first picture, 0 when it failed.").set(
            to: report.outcome == .ok ? 1 : 0
        )
        gauge("duration", "seconds", "Wall time the probe took in the exporter, open and close included.").set(
            to: durationSeconds
        )
        if let first = report.summary.firstVideoFrameMs {
            gauge("first_picture", "seconds", "From the open being asked for to the first decoded picture.").set(
                to: first / 1000
            )
        }
        for stage in Stage.allCases {
            gauge(
                "stage",
                "seconds",
                "Time per stage of the open (repeats summed; 0 when the stage did not occur); the stages sum to the first picture.",
                [("stage", stage.rawValue)]
            ).set(to: report.summary[stage] / 1000)
        }
        if let causes = report.causes {
            for cause in Cause.allCases {
                gauge(
                    "cause",
                    "seconds",
                    "Time to the first picture (or the failure) split by why it passed.",
                    [("cause", cause.rawValue)]
                ).set(to: causes[cause] / 1000)
            }
            if let client = causes.clientAttributableMs {
                gauge(
                    "client_attributable",
                    "seconds",
                    "First picture minus network set-up, the server's response and the keyframe wait: what the client's settings can take away."
                )
                .set(to: client / 1000)
            }
        }
        if let error = report.error {
            gauge(
                "failure_info",
                "",
                "1 for the stage and kind of failure of a failed open.",
                [("stage", error.stage.rawValue), ("kind", error.kind.rawValue)]
            ).set(to: 1)
        }
        for source in Set(report.hops.compactMap { $0.dns?.source.rawValue }).sorted() {
            gauge(
                "dns_source_info",
                "",
                "1 for each source that answered a lookup of the open (system, cache, stale, resolver, literal, negative).",
                [("source", source)]
            ).set(to: 1)
        }
        if let status = report.hops.last(where: { $0.status != nil })?.status {
            gauge("http_status_code", "", "Status of the last response (after redirects).").set(to: Double(status))
        }
        gauge("hops", "", "Requests the open made: redirects, playlists and segments each count.").set(
            to: Double(report.hops.count)
        )
        gauge("connect_attempts", "", "TCP connect attempts over every hop.")
            .set(to: Double(report.hops.reduce(0) { $0 + $1.connects.count }))

        var buffer: [UInt8] = []
        buffer.reserveCapacity(4096)
        registry.emit(into: &buffer)
        return buffer
    }
}
