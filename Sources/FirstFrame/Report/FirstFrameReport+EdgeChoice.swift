import FirstFrameNetwork

extension FirstFrameReport {
    /// Adds to each hop's lookup which address `cache` put first and why, for the lookups it answered.
    mutating func describeEdgeChoices(_ trace: NetworkTrace, cache: DNSCache?) {
        guard let cache else { return }
        for (index, hop) in trace.hops.enumerated() where hops.indices.contains(index) && hops[index].dns != nil {
            guard let lookup = hop.lookup else { continue }
            hops[index].dns?.edge = cache.recordedChoice(for: lookup)
        }
    }
}
