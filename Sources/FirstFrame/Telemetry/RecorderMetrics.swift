import CoreMetrics

/// A recorder's metrics (``MetricNames/recorder``), made once per recorder: bytes written, reconnects, gaps and
/// each gap's length. Labels: `protocol` (from the URL), and `channel` only when the recorder was given one.
struct RecorderMetrics: Sendable {
    let bytes: Counter
    let reconnects: Counter
    let gaps: Counter
    let gapSeconds: Timer

    init(url: String, channel: String?, factory: any MetricsFactory) {
        var dimensions = [(MetricNames.Label.protocol, ReportLabels.protocolName(url: url))]
        if let channel { dimensions.append((MetricNames.Label.channel, channel)) }
        bytes = Counter(label: MetricNames.recorderBytes, dimensions: dimensions, factory: factory)
        reconnects = Counter(label: MetricNames.recorderReconnects, dimensions: dimensions, factory: factory)
        gaps = Counter(label: MetricNames.recorderGaps, dimensions: dimensions, factory: factory)
        gapSeconds = Timer(
            label: MetricNames.recorderGapSeconds,
            dimensions: dimensions,
            preferredDisplayUnit: .seconds,
            factory: factory
        )
    }

    /// Metrics that go nowhere (a writer made without a recorder's).
    static let none = RecorderMetrics(url: "", channel: nil, factory: NOOPMetricsHandler.instance)
}
