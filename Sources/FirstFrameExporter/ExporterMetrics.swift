import FirstFrame
import Prometheus
import Synchronization

/// What `/metrics` shows: the exporter's own process and counters, and every probe it ran, on one long-lived
/// registry (which `MetricsSystem` is bootstrapped with, so the library's own metrics land there too).
///
/// Series per target carry `target` (the configured name; `_adhoc` for a URL probed through `--allow-any-target`,
/// so no URL ever becomes a label value), `preset` (the preset the probe started from, by the same name and value as
/// the library's own `firstframe_open_*` series: ``MetricNames/Label/preset``; knob changes a target's `set` makes
/// do not change it) and the target's configured labels.
public final class ExporterMetrics: Sendable {
    /// Where every series goes; `/metrics` is its text.
    public let registry: PrometheusCollectorRegistry

    /// Whether a probe came from the schedule or from a `/probe` request.
    public enum Trigger: String, Sendable, Codable { case schedule, probe }

    /// Label value of probes of URLs that are not configured targets.
    public static let adhocTarget = "_adhoc"

    /// First-picture buckets (seconds): the field report's range, 50 ms to 10 s.
    public static let firstPictureBuckets: [Double] = [
        0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10,
    ]
    /// Stage buckets (seconds): a loopback lookup to a cold edge.
    public static let stageBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private let inFlight: Gauge
    private let targetCount: Gauge
    private let lastReloadSuccessful: Gauge
    private let lastReloadSuccessTime: Gauge
    private let processGauges: (resident: Gauge, virtual: Gauge, fds: Gauge, threads: Gauge, start: Gauge)
    private let cpuSeconds: Counter
    private struct State {
        var cpuReported = 0.0
        /// The last-probe gauges of each configured target (to remove them when the target goes).
        var lastProbe: [String: LastProbeSeries] = [:]
    }
    private let state = Mutex(State())

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        inFlight = registry.makeGauge(
            descriptor: Self.exporter("probes_in_flight", "", "Opens running now (scheduled and /probe).")
        )
        targetCount = registry.makeGauge(descriptor: Self.exporter("targets", "", "Configured targets."))
        lastReloadSuccessful = registry.makeGauge(
            descriptor: Self.exporter(
                "config_last_reload_successful",
                "",
                "1 when the last (re)load of the configuration succeeded."
            )
        )
        lastReloadSuccessTime = registry.makeGauge(
            descriptor: Self.exporter(
                "config_last_reload_success_timestamp",
                "seconds",
                "When the configuration was last (re)loaded successfully."
            )
        )
        func process(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "process", metricName: name, unitName: unit, helpText: help)
        }
        processGauges = (
            registry.makeGauge(
                descriptor: process("resident_memory", "bytes", "Resident memory size (/proc/self/stat).")
            ),
            registry.makeGauge(
                descriptor: process("virtual_memory", "bytes", "Virtual memory size (/proc/self/stat).")
            ),
            registry.makeGauge(descriptor: process("open_fds", "", "Open file descriptors (/proc/self/fd).")),
            registry.makeGauge(descriptor: process("threads", "", "Threads of the process (/proc/self/stat).")),
            registry.makeGauge(
                descriptor: process("start_time", "seconds", "When the process started, seconds since 1970.")
            )
        )
        cpuSeconds = registry.makeCounter(
            descriptor: process("cpu_seconds", "total", "User and system CPU time spent (/proc/self/stat).")
        )
        updateProcess()
    }

    private static func exporter(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "firstframe",
            subsystem: "exporter",
            metricName: name,
            unitName: unit,
            helpText: help
        )
    }

    private static func target(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "firstframe",
            subsystem: "target",
            metricName: name,
            unitName: unit,
            helpText: help
        )
    }

    // MARK: Exporter

    func probeStarted() { inFlight.increment() }
    func probeEnded() { inFlight.decrement() }

    /// How late a scheduled probe started (its slot came free, or the previous probe of the target overran):
    /// above the jitter, the schedule asks for more than `concurrency` opens can give.
    func scheduleDelay(seconds: Double) {
        registry.makeValueHistogram(
            descriptor: Self.exporter(
                "schedule_delay",
                "seconds",
                "How late scheduled probes started after they were due."
            ),
            buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60]
        ).record(max(0, seconds))
    }

    /// A `/probe` request answered with an error status (400, 403, 404, 429…).
    func requestRejected(status: Int) {
        registry.makeCounter(
            descriptor: Self.exporter("probe_request_errors", "total", "/probe requests refused, by status."),
            labels: [("code", String(status))]
        ).increment()
    }

    func configurationLoaded(_ configuration: ExporterConfiguration?, wallClock: Double) {
        let ok = configuration != nil
        registry.makeCounter(
            descriptor: Self.exporter("config_reloads", "total", "Configuration (re)loads, by result."),
            labels: [("result", ok ? "success" : "failure")]
        ).increment()
        lastReloadSuccessful.set(to: ok ? 1 : 0)
        guard let configuration else { return }
        lastReloadSuccessTime.set(to: wallClock)
        targetCount.set(to: Double(configuration.targets.count))
        // Targets that went away (or changed their labels) lose their last-probe series; their histograms stay.
        let keep = Dictionary(
            configuration.targets.map { ($0.name, LastProbeSeries.labels(for: $0)) },
            uniquingKeysWith: { a, _ in a }
        )
        let gone: [LastProbeSeries] = state.withLock { state in
            let gone = state.lastProbe.filter { name, series in
                keep[name].map { !$0.elementsEqual(series.labels, by: ==) } ?? true
            }
            for name in gone.keys { state.lastProbe[name] = nil }
            return Array(gone.values)
        }
        for series in gone { series.unregister(from: registry) }
    }

    /// Refreshes the `process_*` series; called before every `/metrics` answer.
    func updateProcess() {
        guard let stats = ProcessStats.current() else { return }
        processGauges.resident.set(to: stats.residentBytes)
        processGauges.virtual.set(to: stats.virtualBytes)
        processGauges.fds.set(to: Double(stats.openFileDescriptors))
        processGauges.threads.set(to: Double(stats.threads))
        processGauges.start.set(to: stats.startTimeSeconds)
        let delta = state.withLock { state -> Double in
            let delta = stats.cpuSeconds - state.cpuReported
            if delta > 0 { state.cpuReported = stats.cpuSeconds }
            return delta
        }
        if delta > 0 { cpuSeconds.increment(by: delta) }
    }

    // MARK: Probes

    /// Records one probe: counters, histograms and (for a configured target) its last-probe gauges.
    func record(
        _ report: FirstFrameReport,
        target: ExporterConfiguration.Target?,
        preset: String,
        trigger: Trigger,
        durationSeconds: Double,
        wallClock: Double
    ) {
        let labels =
            [("target", target?.name ?? Self.adhocTarget), (MetricNames.Label.preset, preset)] + (target?.labels ?? [])
        let triggered = labels + [("trigger", trigger.rawValue)]
        registry.makeCounter(
            descriptor: Self.exporter("probes", "total", "Opens the exporter ran, by target, preset and trigger."),
            labels: triggered
        ).increment()
        if report.outcome == .failed {
            registry.makeCounter(
                descriptor: Self.exporter(
                    "probe_failures",
                    "total",
                    "Opens that failed, by target, preset and trigger."
                ),
                labels: triggered
            ).increment()
        }
        if let first = report.summary.firstVideoFrameMs {
            registry.makeValueHistogram(
                descriptor: Self.target("first_picture", "seconds", "First picture of every successful probe."),
                labels: labels,
                buckets: Self.firstPictureBuckets
            ).record(first / 1000)
            let occurred = Set(report.stages.map(\.name))
            for stage in Stage.allCases where occurred.contains(stage) {
                registry.makeValueHistogram(
                    descriptor: Self.target(
                        "stage",
                        "seconds",
                        "Stage times of every successful probe (stages that occurred)."
                    ),
                    labels: labels + [("stage", stage.rawValue)],
                    buckets: Self.stageBuckets
                ).record(report.summary[stage] / 1000)
            }
        }
        guard let target else { return }
        let series: LastProbeSeries = state.withLock { state in
            if let series = state.lastProbe[target.name], series.labels.elementsEqual(labels, by: ==) { return series }
            let series = LastProbeSeries(registry: registry, labels: labels)
            state.lastProbe[target.name] = series
            return series
        }
        series.update(report, durationSeconds: durationSeconds, wallClock: wallClock, registry: registry)
    }

    /// The `firstframe_target_last_*` gauges of one target.
    private final class LastProbeSeries: Sendable {
        let labels: [(String, String)]
        let success: Gauge
        let duration: Gauge
        let timestamp: Gauge
        let stages: [Gauge]
        let causes: [Gauge]
        /// Present only while the last probe reached a picture.
        let firstPicture = Mutex<Gauge?>(nil)
        let clientAttributable = Mutex<Gauge?>(nil)

        static func labels(for target: ExporterConfiguration.Target) -> [(String, String)] {
            [("target", target.name), (MetricNames.Label.preset, target.preset.rawValue)] + target.labels
        }

        init(registry: PrometheusCollectorRegistry, labels: [(String, String)]) {
            self.labels = labels
            success = registry.makeGauge(
                descriptor: Self.descriptor(
                    "last_success",
                    "",
                    "1 when the target's last probe reached its first picture."
                ),
                labels: labels
            )
            duration = registry.makeGauge(
                descriptor: Self.descriptor("last_duration", "seconds", "Wall time of the target's last probe."),
                labels: labels
            )
            timestamp = registry.makeGauge(
                descriptor: Self.descriptor("last_probe_timestamp", "seconds", "When the target's last probe ended."),
                labels: labels
            )
            stages = Stage.allCases.map { stage in
                registry.makeGauge(
                    descriptor: Self.descriptor(
                        "last_stage",
                        "seconds",
                        "Stage times of the target's last probe (0: did not occur)."
                    ),
                    labels: labels + [("stage", stage.rawValue)]
                )
            }
            causes = Cause.allCases.map { cause in
                registry.makeGauge(
                    descriptor: Self.descriptor("last_cause", "seconds", "Causes of the target's last probe."),
                    labels: labels + [("cause", cause.rawValue)]
                )
            }
        }

        private static func descriptor(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            ExporterMetrics.target(name, unit, help)
        }

        func update(
            _ report: FirstFrameReport,
            durationSeconds: Double,
            wallClock: Double,
            registry: PrometheusCollectorRegistry
        ) {
            success.set(to: report.outcome == .ok ? 1 : 0)
            duration.set(to: durationSeconds)
            timestamp.set(to: wallClock)
            for (gauge, stage) in zip(stages, Stage.allCases) { gauge.set(to: report.summary[stage] / 1000) }
            for (gauge, cause) in zip(causes, Cause.allCases) { gauge.set(to: (report.causes?[cause] ?? 0) / 1000) }
            Self.present(firstPicture, report.summary.firstVideoFrameMs, registry: registry) {
                registry.makeGauge(
                    descriptor: Self.descriptor(
                        "last_first_picture",
                        "seconds",
                        "First picture of the target's last probe (absent when it failed)."
                    ),
                    labels: labels
                )
            }
            Self.present(clientAttributable, report.causes?.clientAttributableMs, registry: registry) {
                registry.makeGauge(
                    descriptor: Self.descriptor(
                        "last_client_attributable",
                        "seconds",
                        "Client-attributable time of the target's last probe (absent when it failed)."
                    ),
                    labels: labels
                )
            }
        }

        /// Sets the gauge to `milliseconds` / 1000, registering it when needed; removes it when there is no value.
        private static func present(
            _ slot: borrowing Mutex<Gauge?>,
            _ milliseconds: Double?,
            registry: PrometheusCollectorRegistry,
            make: () -> Gauge
        ) {
            slot.withLock { gauge in
                if let milliseconds {
                    if gauge == nil { gauge = make() }
                    gauge?.set(to: milliseconds / 1000)
                } else if let existing = gauge {
                    registry.unregisterGauge(existing)
                    gauge = nil
                }
            }
        }

        func unregister(from registry: PrometheusCollectorRegistry) {
            for gauge in [success, duration, timestamp] + stages + causes { registry.unregisterGauge(gauge) }
            firstPicture.withLock {
                if let gauge = $0 { registry.unregisterGauge(gauge) }
                $0 = nil
            }
            clientAttributable.withLock {
                if let gauge = $0 { registry.unregisterGauge(gauge) }
                $0 = nil
            }
        }
    }
}
