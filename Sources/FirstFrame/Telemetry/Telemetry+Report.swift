import CoreMetrics
import Tracing

extension Telemetry {
    /// Sends what one open's report says to the metrics factory (``MetricNames``) and the tracer (``SpanNames``),
    /// the open's span a child of `context` (the caller's, captured when the open was asked for). Nothing is
    /// built while both are the global systems' no-op defaults.
    package func emit(_ report: FirstFrameReport, context: ServiceContext) {
        let factory = self.factory
        let tracer = self.currentTracer
        let measuring = !(factory is NOOPMetricsHandler)
        let tracing = !(tracer is NoOpTracer)
        guard measuring || tracing else { return }
        let labels = ReportLabels(report, labelsHost: labelsHost)
        if measuring { ReportMetrics(factory: factory, labels: labels).record(report) }
        if tracing { ReportSpans(labels: labels).emit(report, context: context, tracer: tracer) }
    }
}
