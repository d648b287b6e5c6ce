import CoreMetrics
import Dispatch
import FirstFrameCore
import Logging

/// The pre-resolved, TTL-refreshed DNS cache that answers FFmpeg's `getaddrinfo`.
///
/// ```swift
/// let cache = DNSCache(configuration: .init(resolver: SystemResolver()))
/// await cache.prefetch(hosts: ["live.example.com"])   // at start-up, in parallel
/// cache.install()                                     // FFmpeg's lookups now come from the cache
/// ```
///
/// - A lookup of a cached host returns at once. An entry is refreshed in the background once `refreshAhead` of
///   its TTL has passed (prefetched hosts on a timer, others when looked up), and an expired entry is served
///   for up to `maximumStale` seconds while it is refreshed. A name that does not exist or has no allowed address
///   is cached as a failure for `negativeTTL`; other failures (timeouts, resolver errors) are not cached.
/// - Misses are resolved with the same family policy, so an `AF_UNSPEC` lookup never waits for AAAA under
///   `.ipv4Only`. They wait at most `lookupTimeout`, or less under ``withLookupDeadline(_:_:)``, and can be
///   cancelled: FFmpeg's own getaddrinfo can be neither.
/// - An address that failed to connect (seen in a ``NetworkTrace``) is demoted: it goes last for
///   `demotionPeriod` seconds and the host is re-resolved.
/// - Among the working addresses, the fastest goes first: each address's connect times (from the traces, or
///   ``recordConnectTime(milliseconds:to:host:)``) make a moving average, and every `explorationInterval`th lookup
///   puts the address measured least recently first instead, so an edge that got faster is found. Each lookup says
///   what it chose and why (``Lookup/choice``, ``EdgeChoice``); an opener's report carries it per hop.
/// - What ``stats`` counts also goes to swift-metrics (``DNSCacheMetricNames``), with a gauge of the entries.
public final class DNSCache: Sendable, NetworkTraceObserver {
    /// The cache's family policy, resolver, TTL rules and timeouts.
    public struct Configuration: Sendable {
        public var families: AddressFamilyPolicy
        public var resolver: any Resolver
        /// TTL (seconds) for answers that carry none, such as getaddrinfo's.
        public var defaultTTL: Double
        /// Record TTLs are clamped to this range.
        public var minimumTTL: Double
        public var maximumTTL: Double
        /// The fraction of the TTL after which an entry is refreshed in the background.
        public var refreshAhead: Double
        /// Seconds past expiry that an entry may still be served while a refresh runs.
        public var maximumStale: Double
        /// Seconds a name that does not exist or has no allowed address is remembered as such.
        public var negativeTTL: Double
        /// Seconds a lookup that misses waits for its resolver.
        public var lookupTimeout: Double
        /// Seconds after which a resolution that has not answered starts a second, hedged one (the resolver asked
        /// again: a new query over UDP), the first answer winning; 0: never. A lost query or answer then costs this
        /// long instead of libresolv's timeout (glibc's is 5 s), which is longer than most opens' lookup budget.
        public var lookupHedge: Double
        /// Seconds an address that failed to connect stays last.
        public var demotionPeriod: Double
        /// The weight, in (0, 1], of a new connect time in an address's moving average (exponentially weighted):
        /// higher follows a change sooner, lower smooths out one slow connect.
        public var connectTimeSmoothing: Double
        /// Seconds after its latest connect time that an address's average is forgotten, so it ranks as unmeasured
        /// again (0: never remembered, which turns ranking off).
        public var connectTimeLifetime: Double
        /// Every this-many lookups of a host whose addresses have connect times, the working address measured
        /// least recently goes first, to measure it again (0: never). The price is one slower connect in that many
        /// when the explored edge is still the slower one (FFmpeg races the next address only after 200–300 ms).
        public var explorationInterval: Int

        public init(
            families: AddressFamilyPolicy = .ipv4Only,
            resolver: any Resolver = SystemResolver(),
            defaultTTL: Double = 60,
            minimumTTL: Double = 1,
            maximumTTL: Double = 3600,
            refreshAhead: Double = 0.8,
            maximumStale: Double = 30,
            negativeTTL: Double = 5,
            lookupTimeout: Double = 5,
            lookupHedge: Double = 0,
            demotionPeriod: Double = 60,
            connectTimeSmoothing: Double = 0.3,
            connectTimeLifetime: Double = 300,
            explorationInterval: Int = 10
        ) {
            self.families = families
            self.resolver = resolver
            self.defaultTTL = defaultTTL
            self.minimumTTL = minimumTTL
            self.maximumTTL = maximumTTL
            self.refreshAhead = refreshAhead
            self.maximumStale = maximumStale
            self.negativeTTL = negativeTTL
            self.lookupTimeout = lookupTimeout
            self.lookupHedge = lookupHedge
            self.demotionPeriod = demotionPeriod
            self.connectTimeSmoothing = connectTimeSmoothing
            self.connectTimeLifetime = connectTimeLifetime
            self.explorationInterval = explorationInterval
        }

        /// Throws a message naming the first setting that is out of range.
        public func validate() throws(DNSCacheConfigurationError) {
            func check(_ ok: Bool, _ name: String, _ rule: String) throws(DNSCacheConfigurationError) {
                if !ok { throw .invalid(name, rule) }
            }
            try check(defaultTTL > 0, "defaultTTL", "must be > 0 s")
            try check(minimumTTL >= 0, "minimumTTL", "must be ≥ 0 s")
            try check(maximumTTL >= minimumTTL, "maximumTTL", "must be ≥ minimumTTL")
            try check(refreshAhead > 0 && refreshAhead <= 1, "refreshAhead", "must be in (0, 1]")
            try check(maximumStale >= 0, "maximumStale", "must be ≥ 0 s")
            try check(negativeTTL >= 0, "negativeTTL", "must be ≥ 0 s")
            try check(lookupTimeout > 0, "lookupTimeout", "must be > 0 s")
            try check(lookupHedge >= 0 && lookupHedge <= 60, "lookupHedge", "must be in [0, 60] s")
            try check(demotionPeriod >= 0, "demotionPeriod", "must be ≥ 0 s")
            try check(
                connectTimeSmoothing > 0 && connectTimeSmoothing <= 1,
                "connectTimeSmoothing",
                "must be in (0, 1]"
            )
            try check(connectTimeLifetime >= 0, "connectTimeLifetime", "must be ≥ 0 s")
            try check(explorationInterval >= 0, "explorationInterval", "must be ≥ 0")
        }
    }

    /// Counters since the cache was made.
    public struct Stats: Sendable, Hashable, Codable {
        /// Lookups answered from a fresh entry.
        public var hits = 0
        /// Lookups that found nothing usable and waited for a resolver.
        public var misses = 0
        /// Lookups answered from an expired entry while it was refreshed.
        public var staleServes = 0
        /// Lookups answered from a cached failure.
        public var negativeHits = 0
        /// Background resolutions of a host already cached (refresh-ahead, expiry, demotion).
        public var refreshes = 0
        /// Resolutions that failed.
        public var failures = 0
        /// Lookups that gave up at their deadline, or were cancelled.
        public var timeouts = 0
        public var demotions = 0
        /// Lookups that put a less-preferred working address first to measure it again.
        public var explorations = 0
        /// Hedged second queries started (``Configuration/lookupHedge``), and how many of them answered first.
        public var hedges = 0
        public var hedgeAnswers = 0
    }

    /// The answer to one lookup.
    public struct Lookup: Sendable, Hashable {
        public var host: String
        /// In the order to try them: working before demoted, the fastest working first (or one explored),
        /// IPv6/IPv4 interleaved under `.both` until something is measured.
        public var addresses: [IPAddress]
        public var source: DomainLookup.Source
        /// A miss answered by the hedged second query (``Configuration/lookupHedge``), not the first.
        public var answeredByHedge = false
        /// What the order came from; nil for an address literal.
        var ranking: EdgeRanking.Snapshot?

        /// Which address is first and why, with every address's average connect time; nil for an address literal.
        public var choice: EdgeChoice? { ranking?.choice(for: addresses) }

        /// Equal when the answers and what they say about the choice are (not the instant it was made).
        public static func == (lhs: Lookup, rhs: Lookup) -> Bool {
            lhs.host == rhs.host && lhs.addresses == rhs.addresses && lhs.source == rhs.source
                && lhs.choice == rhs.choice
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(host)
            hasher.combine(addresses)
            hasher.combine(source)
        }
    }

    public let configuration: Configuration
    private let logger: Logger
    private let state = Locked(State())
    private let metrics: DNSCacheMetrics
    private let rankingSettings: EdgeRanking.Settings
    /// Lookups made on tracing threads, for the reports (``recordedChoice(for:)``); apart from `state`, so
    /// untraced lookups never touch it.
    private let recent = Locked(RecentLookups(capacity: 1024))

    private struct Entry {
        var addresses: [IPAddress]
        var fetched: UInt64
        var expires: UInt64
        var demotedUntil: [IPAddress: UInt64] = [:]
        var ranking = EdgeRanking()

        /// The addresses in the order to try them now, and what that order came from.
        mutating func order(
            now: UInt64,
            settings: EdgeRanking.Settings,
            isLookup: Bool
        ) -> ([IPAddress], EdgeRanking.Snapshot) {
            let addresses = self.addresses
            let demotedUntil = self.demotedUntil
            return ranking.order(
                addresses,
                demotedUntil: demotedUntil,
                now: now,
                settings: settings,
                isLookup: isLookup
            )
        }
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var negative: [String: (error: DNSError, until: UInt64)] = [:]
        var inflight: [String: Resolution] = [:]
        var timers: [String: Task<Void, Never>] = [:]
        /// Prefetched hosts: refreshed on a timer, whether looked up or not.
        var pinned: Set<String> = []
        /// After a failed refresh, lookups do not start another before this time (they keep serving the entry).
        var retryAfter: [String: UInt64] = [:]
        var stats = Stats()
        var shutDown = false
    }

    /// - Parameter metricsFactory: where the cache's counters and entries gauge go (``DNSCacheMetricNames``); nil
    ///   means `MetricsSystem.factory` as it is now (the metrics are made once, here: bootstrap the metrics system
    ///   before making caches). The library never bootstraps it.
    public init(
        configuration: Configuration = Configuration(),
        logger: Logger = .disabled,
        metricsFactory: (any MetricsFactory)? = nil
    ) {
        self.configuration = configuration
        self.logger = logger
        self.metrics = DNSCacheMetrics(factory: metricsFactory ?? MetricsSystem.factory)
        self.rankingSettings = EdgeRanking.Settings(
            smoothing: configuration.connectTimeSmoothing,
            lifetime: Self.nanoseconds(configuration.connectTimeLifetime),
            explorationInterval: configuration.explorationInterval
        )
    }

    public var stats: Stats { state.withLock { $0.stats } }

    /// The hosts with an entry (fresh or stale), for inspection.
    public var cachedHosts: [String] { state.withLock { Array($0.entries.keys).sorted() } }

    // MARK: Prefetch

    /// Resolves `hosts` in parallel and keeps them fresh from now on. Returns each host's outcome.
    @discardableResult
    public func prefetch(hosts: [String]) async -> [String: Result<[IPAddress], DNSError>] {
        await withTaskGroup(of: (String, Result<[IPAddress], DNSError>).self) { group in
            for host in Set(hosts.map { $0.lowercased() }) where IPAddress(host) == nil {
                state.withLock { state in
                    state.pinned.insert(host)
                    state.negative[host] = nil
                }
                group.addTask {
                    let resolution = self.resolution(for: host, pin: true)
                    return (host, await resolution.outcome().map(\.addresses))
                }
            }
            var results: [String: Result<[IPAddress], DNSError>] = [:]
            for await (host, result) in group { results[host] = result }
            return results
        }
    }

    /// Starts resolving `hosts` (kept fresh from then on, as ``prefetch(hosts:)`` does) without waiting: a lookup
    /// made meanwhile joins the resolution in flight, under its own deadline. Hosts already cached are left alone.
    public func startPrefetch(hosts: [String]) {
        for host in Set(hosts.map { $0.lowercased() }) where IPAddress(host) == nil {
            state.withLock { state in
                state.pinned.insert(host)
                guard state.entries[host] == nil, state.inflight[host] == nil else { return }
                state.negative[host] = nil
                _ = startResolution(host, in: &state)
            }
        }
    }

    /// Fixed answers (curl's `--resolve`), in the cache before the first lookup: served as `cache`, never
    /// expiring, never refreshed.
    public func seed(_ table: [String: [IPAddress]]) {
        let now = MonotonicClock.nanoseconds()
        let added = state.withLock { state in
            let before = state.entries.count
            for (host, addresses) in table where !addresses.isEmpty {
                let arranged = configuration.families.arrange(addresses)
                guard !arranged.isEmpty else { continue }
                state.entries[host.lowercased()] = Entry(addresses: arranged, fetched: now, expires: UInt64.max / 2)
                state.pinned.insert(host.lowercased())
            }
            return state.entries.count - before
        }
        metrics.entriesChanged(by: added)
    }

    // MARK: Lookup

    /// Looks `host` up, blocking the calling thread on a miss: for FFmpeg's threads (through the hook) and other
    /// dedicated threads. Never call it on Swift's cooperative pool; use ``lookup(host:)`` there.
    ///
    /// - Parameters:
    ///   - deadline: `MonotonicClock` nanoseconds; the configured `lookupTimeout` applies when it is later or nil.
    ///   - isCancelled: polled every few milliseconds while waiting.
    package func lookupBlocking(
        host: String,
        deadline: UInt64? = nil,
        isCancelled: () -> Bool = { false }
    ) throws(DNSError) -> Lookup {
        try lookupReportingSource(host: host, deadline: deadline, isCancelled: isCancelled).result.get()
    }

    /// ``lookupBlocking(host:deadline:isCancelled:)`` that also says where a failure came from (a cached
    /// failure, or the resolvers), for the trace.
    func lookupReportingSource(
        host: String,
        deadline: UInt64?,
        isCancelled: () -> Bool
    ) -> (result: Result<Lookup, DNSError>, source: DomainLookup.Source) {
        let start = MonotonicClock.nanoseconds()
        switch decide(host) {
        case .answer(let lookup): return (.success(lookup), lookup.source)
        case .fail(let error): return (.failure(error), .negative)
        case .wait(let resolution, let name):
            let limit = min(deadline ?? .max, start + Self.nanoseconds(configuration.lookupTimeout))
            let outcome = resolution.wait(until: limit, isCancelled: isCancelled)
            let settled = settle(outcome, host: name, since: start, cancelled: isCancelled()).map { lookup in
                var lookup = lookup
                lookup.answeredByHedge = resolution.answeredByHedge
                return lookup
            }
            return (settled, .resolver)
        }
    }

    /// What a lookup that waited for a resolution answers: its addresses in order, its error, or (nil: the wait
    /// ended first) a timeout or cancellation, counted.
    private func settle(
        _ outcome: Result<DNSAnswer, DNSError>?,
        host: String,
        since start: UInt64,
        cancelled: Bool
    ) -> Result<Lookup, DNSError> {
        switch outcome {
        case .some(.success(let answer)):
            let lookup = ordered(answer.addresses, host: host)
            if lookup.ranking?.reason == .exploring { metrics.explorations.increment() }
            return .success(lookup)
        case .some(.failure(let error)):
            return .failure(error)
        case .none:
            state.withLock { $0.stats.timeouts += 1 }
            return .failure(
                cancelled ? .cancelled(host) : .timedOut(host, milliseconds: MonotonicClock.milliseconds(since: start))
            )
        }
    }

    /// Looks `host` up without blocking a thread; a miss waits at most `lookupTimeout`.
    public func lookup(host: String) async throws(DNSError) -> Lookup {
        let start = MonotonicClock.nanoseconds()
        switch decide(host) {
        case .answer(let lookup): return lookup
        case .fail(let error): throw error
        case .wait(let resolution, let name):
            let timeout = configuration.lookupTimeout
            let first = FirstAnswer<Result<DNSAnswer, DNSError>?>()
            let result = await withTaskCancellationHandler {
                Task { first.offer(await resolution.outcome()) }
                let timer = Task {
                    try? await Task.sleep(for: .seconds(timeout))
                    first.offer(nil)
                }
                defer { timer.cancel() }
                return await first.value()
            } onCancel: {
                first.offer(nil)
            }
            return try settle(result, host: name, since: start, cancelled: Task.isCancelled).get()
        }
    }

    private enum Decision {
        case answer(Lookup)
        case fail(DNSError)
        case wait(Resolution, String)
    }

    private func decide(_ rawHost: String) -> Decision {
        let host = rawHost.utf8.contains(where: { (65...90).contains($0) }) ? rawHost.lowercased() : rawHost
        if Self.mightBeLiteral(host), let literal = IPAddress(host) {
            return .answer(
                Lookup(
                    host: host,
                    addresses: configuration.families.allows(literal.family) ? [literal] : [],
                    source: .literal
                )
            )
        }
        let now = MonotonicClock.nanoseconds()
        var refresh = false
        let decision: Decision = state.withLock { state in
            if let negative = state.negative[host] {
                if now < negative.until {
                    state.stats.negativeHits += 1
                    return .fail(negative.error)
                }
                state.negative[host] = nil
            }
            if let entry = state.entries[host] {
                let ttl = entry.expires &- entry.fetched
                let mayRetry = state.retryAfter[host].map { now >= $0 } ?? true
                if now < entry.expires {
                    state.stats.hits += 1
                    refresh = mayRetry && now >= entry.fetched + UInt64(Double(ttl) * configuration.refreshAhead)
                    return .answer(answer(host, source: .cache, in: &state, now: now))
                }
                if now < entry.expires + Self.nanoseconds(configuration.maximumStale) {
                    state.stats.staleServes += 1
                    refresh = mayRetry
                    return .answer(answer(host, source: .stale, in: &state, now: now))
                }
            }
            state.stats.misses += 1
            return .wait(startResolution(host, in: &state), host)
        }
        // Counted outside the lock: a hit costs one increment.
        switch decision {
        case .answer(let lookup):
            (lookup.source == .stale ? metrics.staleServed : metrics.hits).increment()
            if lookup.ranking?.reason == .exploring { metrics.explorations.increment() }
        case .fail: metrics.negativeHits.increment()
        case .wait: metrics.misses.increment()
        }
        if refresh { _ = resolution(for: host, pin: false) }
        return decision
    }

    // MARK: Resolution

    /// The in-flight resolution of `host`, started if there is none.
    private func resolution(for host: String, pin: Bool) -> Resolution {
        state.withLock { state in
            if pin { state.pinned.insert(host) }
            return startResolution(host, in: &state)
        }
    }

    private func startResolution(_ host: String, in state: inout State) -> Resolution {
        if let running = state.inflight[host] { return running }
        let resolution = Resolution()
        state.inflight[host] = resolution
        if state.entries[host] != nil {
            state.stats.refreshes += 1
            metrics.refreshes.increment()
        }
        launch(host, resolution: resolution, attempt: 1)
        let hedge = configuration.lookupHedge
        if hedge > 0 {
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(Self.nanoseconds(hedge)))) {
                [self] in
                guard resolution.startHedge() else { return }
                self.state.withLock { $0.stats.hedges += 1 }
                logger.debug("lookup hedged", metadata: ["host": "\(host)"])
                launch(host, resolution: resolution, attempt: 2)
            }
        }
        return resolution
    }

    /// Runs one attempt of `resolution` (1: the first query, 2: the hedge) off the caller's thread.
    private func launch(_ host: String, resolution: Resolution, attempt: Int) {
        let resolver = configuration.resolver
        let families = configuration.families
        // A resolver that only blocks runs straight on the resolver pool: no task, no thread start, so a miss
        // costs the resolver's own time plus a hand-off.
        if let blocking = resolver as? any BlockingResolver {
            BlockingPool.resolvers.submit { [self] in
                complete(
                    host,
                    resolution: resolution,
                    attempt: attempt,
                    with: Result { () throws(DNSError) in
                        try blocking.resolveBlocking(host: host, families: families)
                    }
                )
            }
            return
        }
        Task.detached { [self] in
            let result: Result<DNSAnswer, DNSError>
            do throws(DNSError) {
                result = .success(try await resolver.resolve(host: host, families: families))
            } catch {
                result = .failure(error)
            }
            complete(host, resolution: resolution, attempt: attempt, with: result)
        }
    }

    private func complete(
        _ host: String,
        resolution: Resolution,
        attempt: Int,
        with result: Result<DNSAnswer, DNSError>
    ) {
        let now = MonotonicClock.nanoseconds()
        let outcome: Result<DNSAnswer, DNSError>
        switch result {
        case .success(let answer):
            let addresses = configuration.families.arrange(answer.addresses)
            outcome =
                addresses.isEmpty
                ? .failure(.noAddresses(host, configuration.families))
                : .success(DNSAnswer(addresses: addresses, ttl: answer.ttl))
        case .failure(let error):
            outcome = .failure(error)
        }
        // A hedged resolution settles once: the loser's answer is dropped here.
        guard resolution.accepts(outcome, attempt: attempt) else { return }
        if attempt == 2 { state.withLock { $0.stats.hedgeAnswers += 1 } }
        var entriesAdded = 0
        let pinnedTTL: Double? = state.withLock { state in
            let before = state.entries.count
            defer { entriesAdded = state.entries.count - before }
            state.inflight[host] = nil
            evictExpired(from: &state, now: now)
            switch outcome {
            case .success(let answer):
                let ttl = min(
                    max(answer.ttl ?? configuration.defaultTTL, configuration.minimumTTL),
                    configuration.maximumTTL
                )
                var entry = state.entries[host] ?? Entry(addresses: [], fetched: now, expires: now)
                entry.addresses = answer.addresses
                entry.fetched = now
                entry.expires = now + Self.nanoseconds(ttl)
                entry.demotedUntil = entry.demotedUntil.filter { answer.addresses.contains($0.key) && $0.value > now }
                entry.ranking.keep(only: answer.addresses)
                state.entries[host] = entry
                state.negative[host] = nil
                state.retryAfter[host] = nil
                return state.pinned.contains(host) && !state.shutDown ? ttl : nil
            case .failure(let error):
                state.stats.failures += 1
                // A failed refresh leaves a usable entry alone: it is served (stale, if need be) until it ages out.
                let usable =
                    state.entries[host].map { now < $0.expires + Self.nanoseconds(configuration.maximumStale) } ?? false
                if error.isAuthoritative, !usable {
                    state.negative[host] = (error, now + Self.nanoseconds(configuration.negativeTTL))
                }
                if usable { state.retryAfter[host] = now + Self.nanoseconds(max(configuration.negativeTTL, 1)) }
                // A pinned host keeps being retried, at the negative TTL's pace.
                return state.pinned.contains(host) && !state.shutDown
                    ? max(configuration.negativeTTL, 1) / configuration.refreshAhead : nil
            }
        }
        metrics.entriesChanged(by: entriesAdded)
        if case .failure(let error) = outcome {
            logger.debug("resolution failed", metadata: ["host": "\(host)", "error": "\(error)"])
        }
        if let pinnedTTL { scheduleRefresh(host, after: pinnedTTL * configuration.refreshAhead) }
        resolution.finish(outcome)
    }

    /// Drops what can no longer be served, so a long-running process does not keep every host it ever saw.
    /// Prefetched hosts stay: they are refreshed on their timers.
    private func evictExpired(from state: inout State, now: UInt64) {
        let stale = Self.nanoseconds(configuration.maximumStale)
        state.entries = state.entries.filter { now < $0.value.expires + stale || state.pinned.contains($0.key) }
        state.negative = state.negative.filter { now < $0.value.until }
        state.retryAfter = state.retryAfter.filter { now < $0.value }
    }

    private func scheduleRefresh(_ host: String, after seconds: Double) {
        let timer = Task.detached { [weak self] in
            try? await Task.sleep(for: .seconds(seconds))
            guard !Task.isCancelled, let self else { return }
            _ = self.resolution(for: host, pin: true)
        }
        state.withLock { state in
            state.timers[host]?.cancel()
            if state.shutDown { timer.cancel() } else { state.timers[host] = timer }
        }
    }

    /// Stops the background refresh timers. Lookups still work; entries just age.
    public func shutdown() {
        let timers = state.withLock { state in
            state.shutDown = true
            defer { state.timers = [:] }
            return Array(state.timers.values)
        }
        for timer in timers { timer.cancel() }
    }

    deinit {
        let entries = state.withLock { state in
            for timer in state.timers.values { timer.cancel() }
            return state.entries.count
        }
        // The gauge sums the process's caches: this one's entries leave with it.
        metrics.entriesChanged(by: -entries)
    }

    // MARK: Failover

    /// Puts `address` last for `host` for `demotionPeriod` seconds and re-resolves the host.
    public func demote(_ address: IPAddress, host rawHost: String) {
        let host = rawHost.lowercased()
        let known = state.withLock { state -> Bool in
            guard state.entries[host]?.addresses.contains(address) == true else { return false }
            state.entries[host]!.demotedUntil[address] =
                MonotonicClock.nanoseconds() + Self.nanoseconds(configuration.demotionPeriod)
            state.stats.demotions += 1
            return true
        }
        guard known else { return }
        metrics.demotions.increment()
        logger.debug("address demoted", metadata: ["host": "\(host)", "address": "\(address)"])
        _ = resolution(for: host, pin: false)
    }

    /// A trace it observes (as the installed cache, or an opener's own): it learns from it.
    package func traceEnded(_ trace: NetworkTrace) {
        learn(from: trace)
    }

    /// Learns from a trace of lookups this cache answered: each connect time goes into its address's moving
    /// average, and addresses that failed are demoted: refused or unreachable, or abandoned while a later attempt
    /// connected (a black hole, or an edge slower than FFmpeg's 200–300 ms race, that happy eyeballs raced past).
    /// Such an abandoned attempt also counts as a connect time as long as it was left waiting: a lower bound, so
    /// the address ranks behind the one that won once its demotion is over.
    package func learn(from trace: NetworkTrace) {
        for hop in trace.hops {
            guard let lookup = hop.lookup, [.cache, .stale, .resolver].contains(lookup.source) else { continue }
            let winner = hop.establishedConnect
            for attempt in hop.connects {
                let beaten = attempt.outcome == .abandoned && winner.map { $0.start > attempt.start } == true
                if attempt.outcome == .connected || beaten, let duration = attempt.duration {
                    recordConnectTime(
                        milliseconds: Double(duration) / 1e6,
                        to: attempt.address.address,
                        host: lookup.host
                    )
                }
                if attempt.outcome == .failed || beaten { demote(attempt.address.address, host: lookup.host) }
            }
        }
    }

    /// Adds a connect time of `address` to `host`'s ranking, as ``NetworkTrace``s of FFmpeg's opens do: for
    /// connections made outside FFmpeg. Ignored unless the cache holds `host` with `address`.
    public func recordConnectTime(milliseconds: Double, to address: IPAddress, host rawHost: String) {
        guard milliseconds.isFinite, milliseconds >= 0 else { return }
        let host = rawHost.lowercased()
        let now = MonotonicClock.nanoseconds()
        state.withLock { state in
            guard state.entries[host]?.addresses.contains(address) == true else { return }
            state.entries[host]!.ranking.record(
                milliseconds: milliseconds,
                for: address,
                at: now,
                settings: rankingSettings
            )
        }
    }

    // MARK: Ordering

    /// How `host`'s addresses rank now: the order a lookup would give them when not exploring, with their average
    /// connect times; nil when the host has no entry. Not a lookup: it counts nothing and explores nothing.
    public func edgeChoice(for rawHost: String) -> EdgeChoice? {
        let host = rawHost.lowercased()
        let now = MonotonicClock.nanoseconds()
        return state.withLock { state -> Lookup? in
            guard state.entries[host] != nil else { return nil }
            let (addresses, snapshot) = state.entries[host]!.order(now: now, settings: rankingSettings, isLookup: false)
            return Lookup(host: host, addresses: addresses, source: .cache, ranking: snapshot)
        }?.choice
    }

    /// The entry's addresses as a lookup answers them, counted as one towards exploration.
    private func answer(_ host: String, source: DomainLookup.Source, in state: inout State, now: UInt64) -> Lookup {
        let (addresses, snapshot) = state.entries[host]!.order(now: now, settings: rankingSettings, isLookup: true)
        if snapshot.reason == .exploring { state.stats.explorations += 1 }
        return Lookup(host: host, addresses: addresses, source: source, ranking: snapshot)
    }

    /// A miss's answer, in the entry's order now that it is in (the resolver's `addresses` if it is already gone).
    private func ordered(_ addresses: [IPAddress], host: String) -> Lookup {
        let now = MonotonicClock.nanoseconds()
        return state.withLock { state in
            guard state.entries[host] != nil else {
                var unranked = EdgeRanking()
                let order = unranked.order(
                    addresses,
                    demotedUntil: [:],
                    now: now,
                    settings: rankingSettings,
                    isLookup: false
                )
                return Lookup(host: host, addresses: addresses, source: .resolver, ranking: order.snapshot)
            }
            return answer(host, source: .resolver, in: &state, now: now)
        }
    }

    // MARK: Reports

    /// Keeps a lookup the getaddrinfo hook answered on a tracing thread, with the `addresses` it handed out, for
    /// ``recordedChoice(for:)``.
    func remember(_ lookup: Lookup, answered addresses: [IPAddress]) {
        var kept = lookup
        kept.addresses = addresses
        let now = MonotonicClock.nanoseconds()
        recent.withLock { $0.append(kept, at: now) }
    }

    /// What this cache chose for the getaddrinfo call a trace recorded as `lookup` (on any thread, while it was
    /// tracing); nil when another cache or libc answered it, or it is too old to be kept.
    package func recordedChoice(for lookup: DomainLookup) -> EdgeChoice? {
        guard [.cache, .stale, .resolver].contains(lookup.source) else { return nil }
        let found = recent.withLock {
            $0.find(
                host: lookup.host.lowercased(),
                from: lookup.start,
                to: lookup.end ?? .max,
                first: lookup.answers.first?.address
            )
        }
        return found?.choice
    }

    /// Whether `host` is worth parsing as an address: IPv4 literals start with a digit, IPv6 ones contain a colon.
    /// (A name may start with a digit too, `1tv.example`; the parse decides.) Keeps inet_pton off the hit path.
    private static func mightBeLiteral(_ host: String) -> Bool {
        guard let first = host.utf8.first else { return false }
        return (48...57).contains(first) || first == UInt8(ascii: "[") || host.utf8.contains(UInt8(ascii: ":"))
    }

    /// Seconds as nanoseconds, capped at a quarter of UInt64 (146 years) so sums of two never overflow.
    static func nanoseconds(_ seconds: Double) -> UInt64 {
        guard seconds.isFinite else { return seconds > 0 ? UInt64.max / 4 : 0 }
        return seconds >= Double(UInt64.max / 4) / 1e9 ? UInt64.max / 4 : UInt64(max(0, seconds) * 1e9)
    }
}
