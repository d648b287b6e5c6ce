import FirstFrame

/// Continuous probing: each configured target with an `interval` is opened every interval ± jitter, at most
/// `concurrency` opens at once (a target waits for a slot; it never runs twice at the same time). The first probe
/// of each target falls at a random point of its first interval, so a hundred targets do not all open at start-up.
/// A new configuration (a reload) restarts the schedule.
public enum ProbeScheduler {
    /// Follows `exporter.configurations` until cancelled.
    public static func run(_ exporter: Exporter) async {
        var running: Task<Void, Never>?
        for await configuration in exporter.configurations {
            running?.cancel()
            await running?.value
            running = Task { await schedule(configuration, exporter: exporter) }
        }
        running?.cancel()
        await running?.value
    }

    /// One configuration's schedule, until cancelled.
    package static func schedule(_ configuration: ExporterConfiguration, exporter: Exporter) async {
        let slots = OpenSlots(limit: configuration.concurrency)
        let jitter = configuration.jitter
        await withDiscardingTaskGroup { group in
            for target in configuration.targets {
                guard let interval = target.interval else { continue }
                group.addTask {
                    let clock = ContinuousClock()
                    var due = clock.now + .seconds(Double.random(in: 0..<interval))
                    while !Task.isCancelled {
                        do {
                            try await Task.sleep(until: due, clock: clock)
                            try await slots.acquire()
                        } catch {
                            return  // cancelled
                        }
                        let late = clock.now - due
                        exporter.metrics.scheduleDelay(
                            seconds: Double(late.components.seconds) + Double(late.components.attoseconds) / 1e18
                        )
                        _ = await exporter.probe(target)
                        slots.release()
                        let factor = jitter > 0 ? 1 + Double.random(in: -jitter...jitter) : 1
                        // Planned from the previous due time (no drift); an overrun starts the next one at once.
                        due = max(due + .seconds(interval * factor), clock.now)
                    }
                }
            }
        }
    }
}
