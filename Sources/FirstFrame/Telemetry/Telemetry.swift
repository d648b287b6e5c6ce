import CoreMetrics
import Tracing

/// Where an opener's (or a recorder's) metrics and spans go. By default the global systems
/// (`MetricsSystem.factory`, `InstrumentationSystem.tracer`), looked up when each open ends: the library never
/// bootstraps them, and until the application does, emitting costs nothing. Tests and embedders that keep
/// several sinks apart pass their own.
public struct Telemetry: Sendable {
    /// The metrics factory; nil means `MetricsSystem.factory`.
    public var metricsFactory: (any MetricsFactory)?
    /// The tracer; nil means `InstrumentationSystem.tracer`.
    public var tracer: (any Tracer)?
    /// Label the open's metrics with the host (`host`). Off by default: hosts are unbounded in a fleet.
    public var labelsHost: Bool

    public init(metricsFactory: (any MetricsFactory)? = nil, tracer: (any Tracer)? = nil, labelsHost: Bool = false) {
        self.metricsFactory = metricsFactory
        self.tracer = tracer
        self.labelsHost = labelsHost
    }

    /// The factory metrics go to now.
    package var factory: any MetricsFactory { metricsFactory ?? MetricsSystem.factory }
    /// The tracer spans go to now.
    package var currentTracer: any Tracer { tracer ?? InstrumentationSystem.tracer }
}
