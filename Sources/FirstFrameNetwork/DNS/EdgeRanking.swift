import FirstFrameCore

/// One host's measured connect times, and the order they give its addresses.
///
/// Working (not demoted) addresses go first: the measured ones by their moving average (ties keep the resolver's
/// order), then the unmeasured ones in the resolver's order. Demoted ones go last, whatever their speed: a failure
/// outweighs any average. Every `explorationInterval`th lookup, once something is measured, the working address
/// measured least recently (never measured counts as oldest) goes first instead, so an edge that recovered or got
/// faster is measured again; a demoted address is never explored onto.
struct EdgeRanking: Sendable, Hashable {
    struct Measurement: Sendable, Hashable {
        var averageMs: Double
        var samples: Int
        /// `MonotonicClock` ns of the latest sample.
        var last: UInt64

        func isFresh(at now: UInt64, lifetime: UInt64) -> Bool {
            // Not `now - last`: a sample recorded after `now` was read (another thread) is fresh, not wrapped.
            last + lifetime > now
        }
    }

    /// The cache's ranking settings, in the units the ranking uses.
    struct Settings: Sendable {
        /// The weight of a new sample in the moving average, in (0, 1].
        var smoothing: Double
        /// Nanoseconds after its latest sample that an average is forgotten.
        var lifetime: UInt64
        /// Every this-many lookups explore; 0 never.
        var explorationInterval: Int
    }

    /// What one lookup's order was made from: enough to describe it as an ``EdgeChoice`` when someone asks,
    /// without building that description (an array) on the lookup's path.
    struct Snapshot: Sendable, Hashable {
        var reason: EdgeChoice.Reason
        var measurements: [IPAddress: Measurement]
        var demotedUntil: [IPAddress: UInt64]
        var now: UInt64
        var lifetime: UInt64

        /// `addresses` (the lookup's answer, in its order) described; nil when there are none.
        func choice(for addresses: [IPAddress]) -> EdgeChoice? {
            guard let first = addresses.first else { return nil }
            return EdgeChoice(
                chosen: first,
                reason: reason,
                candidates: addresses.map { address in
                    let measured = measurements[address].flatMap { $0.isFresh(at: now, lifetime: lifetime) ? $0 : nil }
                    return EdgeChoice.Candidate(
                        address: address,
                        averageConnectMs: measured?.averageMs,
                        samples: measured?.samples ?? 0,
                        demoted: (demotedUntil[address] ?? 0) > now
                    )
                }
            )
        }
    }

    private(set) var measurements: [IPAddress: Measurement] = [:]
    /// Lookups answered from this entry, for the every-Nth exploration.
    private(set) var lookups = 0

    /// Adds a successful connect time of `address` to its moving average (exponentially weighted); an average
    /// past its lifetime starts over from this sample.
    mutating func record(milliseconds: Double, for address: IPAddress, at now: UInt64, settings: Settings) {
        if var measured = measurements[address], measured.isFresh(at: now, lifetime: settings.lifetime) {
            measured.averageMs += settings.smoothing * (milliseconds - measured.averageMs)
            measured.samples += 1
            measured.last = max(measured.last, now)
            measurements[address] = measured
        } else {
            measurements[address] = Measurement(averageMs: milliseconds, samples: 1, last: now)
        }
    }

    /// Forgets the addresses a new answer no longer has.
    mutating func keep(only addresses: [IPAddress]) {
        guard measurements.keys.contains(where: { !addresses.contains($0) }) else { return }
        measurements = measurements.filter { addresses.contains($0.key) }
    }

    /// `addresses` (the resolver's order) in the order to try them, and why.
    /// - Parameter isLookup: counts towards exploration and may explore; false only describes the ranking.
    mutating func order(
        _ addresses: [IPAddress],
        demotedUntil: [IPAddress: UInt64],
        now: UInt64,
        settings: Settings,
        isLookup: Bool
    ) -> (addresses: [IPAddress], snapshot: Snapshot) {
        if isLookup { lookups &+= 1 }
        func made(_ reason: EdgeChoice.Reason) -> Snapshot {
            Snapshot(
                reason: reason,
                measurements: measurements,
                demotedUntil: demotedUntil,
                now: now,
                lifetime: settings.lifetime
            )
        }
        if addresses.count < 2 { return (addresses, made(.onlyAddress)) }
        // The common case, kept free of allocations: nothing measured, nothing demoted.
        if measurements.isEmpty, demotedUntil.isEmpty { return (addresses, made(.resolverOrder)) }

        let working = addresses.filter { (demotedUntil[$0] ?? 0) <= now }
        let demoted = addresses.filter { (demotedUntil[$0] ?? 0) > now }
        if working.isEmpty { return (addresses, made(.allDemoted)) }
        if working.count == 1 { return (working + demoted, made(.onlyWorking)) }

        func fresh(_ address: IPAddress) -> Measurement? {
            measurements[address].flatMap { $0.isFresh(at: now, lifetime: settings.lifetime) ? $0 : nil }
        }
        let measured = working.enumerated().compactMap { index, address in
            fresh(address).map { (index, address, $0.averageMs) }
        }
        if measured.isEmpty { return (working + demoted, made(.resolverOrder)) }
        let ranked = measured.sorted { ($0.2, $0.0) < ($1.2, $1.0) }.map(\.1) + working.filter { fresh($0) == nil }

        if isLookup, settings.explorationInterval > 0, lookups % settings.explorationInterval == 0,
            let target = ranked.dropFirst().min(by: { (fresh($0)?.last ?? 0) < (fresh($1)?.last ?? 0) })
        {
            return ([target] + ranked.filter { $0 != target } + demoted, made(.exploring))
        }
        return (ranked + demoted, made(.fastest))
    }
}
