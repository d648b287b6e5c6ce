import Tracing

extension Telemetry {
    /// Sends what one open's report says to the metrics factory and the tracer.
    package func emit(_ report: FirstFrameReport, context: ServiceContext) {}
}
