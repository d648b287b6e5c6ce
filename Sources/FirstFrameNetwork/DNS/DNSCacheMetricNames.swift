/// The names of the DNS cache's metrics (Prometheus conventions: `_total` counters, no units in gauges). Every
/// cache of the process adds to the same unlabeled series.
public enum DNSCacheMetricNames {
    /// Lookups answered from a fresh entry.
    public static let hits = "firstframe_dns_cache_hits_total"
    /// Lookups that found nothing usable and waited for a resolver.
    public static let misses = "firstframe_dns_cache_misses_total"
    /// Lookups answered from an expired entry while it was refreshed.
    public static let staleServed = "firstframe_dns_cache_stale_served_total"
    /// Lookups answered from a cached failure (a name that does not exist).
    public static let negativeHits = "firstframe_dns_cache_negative_hits_total"
    /// Background resolutions of a host already cached (refresh-ahead, expiry, demotion).
    public static let refreshes = "firstframe_dns_cache_refreshes_total"
    /// Addresses put last after they failed to connect.
    public static let demotions = "firstframe_dns_cache_demotions_total"
    /// Lookups that put a less-preferred working address first to measure its connect time again.
    public static let explorations = "firstframe_dns_cache_explorations_total"
    /// Hosts with an entry (fresh or stale), summed over the process's caches (a gauge).
    public static let entries = "firstframe_dns_cache_entries"

    /// Every name, in the order above.
    public static let all = [hits, misses, staleServed, negativeHits, refreshes, demotions, explorations, entries]
}
