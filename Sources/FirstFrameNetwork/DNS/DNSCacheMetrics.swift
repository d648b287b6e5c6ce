import CoreMetrics

/// A cache's metric objects, made once when the cache is made: a lookup costs one counter increment (a no-op call
/// until the application bootstraps `MetricsSystem`). The library never bootstraps it.
///
/// The entries gauge is a `Meter` moved by each cache's changes (and taken back when a cache goes), so the
/// caches of a process (one per opener) add up in one series instead of overwriting each other's value.
struct DNSCacheMetrics: Sendable {
    let hits: Counter
    let misses: Counter
    let staleServed: Counter
    let negativeHits: Counter
    let refreshes: Counter
    let demotions: Counter
    let explorations: Counter
    let entries: Meter

    init(factory: any MetricsFactory) {
        hits = Counter(label: DNSCacheMetricNames.hits, factory: factory)
        misses = Counter(label: DNSCacheMetricNames.misses, factory: factory)
        staleServed = Counter(label: DNSCacheMetricNames.staleServed, factory: factory)
        negativeHits = Counter(label: DNSCacheMetricNames.negativeHits, factory: factory)
        refreshes = Counter(label: DNSCacheMetricNames.refreshes, factory: factory)
        demotions = Counter(label: DNSCacheMetricNames.demotions, factory: factory)
        explorations = Counter(label: DNSCacheMetricNames.explorations, factory: factory)
        entries = Meter(label: DNSCacheMetricNames.entries, factory: factory)
    }

    /// The cache holds `delta` more (or fewer) entries than before.
    func entriesChanged(by delta: Int) {
        if delta > 0 {
            entries.increment(by: Double(delta))
        } else if delta < 0 {
            entries.decrement(by: Double(-delta))
        }
    }
}
