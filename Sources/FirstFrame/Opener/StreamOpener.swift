import CoreMetrics
import FirstFrameNetwork
import Logging
import Tracing

/// Opens a stream to its first decoded picture as fast as the knobs allow, and reports where the time went.
///
/// ```swift
/// let opener = StreamOpener(preset: .instant)
/// let stream = try await opener.open("http://live.example.com/app/stream.flv")
/// print(stream.report.summary.firstVideoFrameMs!)      // and keep reading: stream.readPacket()
/// ```
///
/// Each open runs its blocking FFmpeg calls on a thread of its own, traced (`NetworkTrace`), with its own DNS
/// cache when the knobs ask for one (`ipv4Only`, `resolve`, `prefetchHosts`); task cancellation and the
/// deadlines stop it through FFmpeg's interrupt callback and the cache's lookup deadline.
public struct StreamOpener: Sendable {
    public let knobs: TuningKnobs
    /// The preset the knobs came from, for reports (nil when they were built by hand).
    public let presetName: String?
    /// The cache answering this opener's lookups, if its knobs need one; it lives as long as the opener, so
    /// prefetched and cached hosts serve every open.
    public let dnsCache: DNSCache?
    /// Where each open's metrics and spans go (the global systems unless given).
    public let telemetry: Telemetry
    private let logger: Logger

    /// An opener for `preset`'s knobs.
    /// - Parameters:
    ///   - preset: the knobs to open with (``Preset/instant`` unless given).
    ///   - logger: where opens log (stage by stage at `debug`, failures at `info`); nothing is logged unless one is
    ///     given.
    ///   - telemetry: where each open's metrics and spans go: the global systems unless given.
    public init(preset: Preset = .instant, logger: Logger = .disabled, telemetry: Telemetry = Telemetry()) {
        // Presets are valid by construction (a test checks each).
        try! self.init(configuration: Configuration(preset: preset), logger: logger, telemetry: telemetry)
    }

    /// An opener for `knobs`: the same as ``init(configuration:logger:telemetry:)`` with a configuration of them.
    /// - Throws: ``KnobError`` naming the first invalid knob.
    public init(
        knobs: TuningKnobs,
        presetName: String? = nil,
        dnsCache: DNSCache? = nil,
        logger: Logger = .disabled,
        telemetry: Telemetry = Telemetry()
    ) throws(KnobError) {
        try self.init(
            configuration: Configuration(knobs: knobs, presetName: presetName, dnsCache: dnsCache),
            logger: logger,
            telemetry: telemetry
        )
    }

    /// An opener for `configuration`, which it validates.
    /// - Throws: ``KnobError`` naming the first invalid knob.
    public init(
        configuration: Configuration,
        logger: Logger = .disabled,
        telemetry: Telemetry = Telemetry()
    )
        throws(KnobError)
    {
        try configuration.validate()
        self.knobs = configuration.knobs
        self.presetName = configuration.presetName
        self.logger = logger
        self.telemetry = telemetry
        self.dnsCache =
            configuration.dnsCache
            ?? Self.cache(for: configuration.knobs, logger: logger, metricsFactory: telemetry.metricsFactory)
    }

    /// The cache the knobs call for; nil (libc's getaddrinfo, as stock FFmpeg) when they call for none.
    static func cache(for knobs: TuningKnobs, logger: Logger, metricsFactory: (any MetricsFactory)? = nil) -> DNSCache?
    {
        guard knobs.ipv4Only || !knobs.resolve.isEmpty || !knobs.prefetchHosts.isEmpty else { return nil }
        var resolvers: [any Resolver] = []
        if !knobs.resolve.isEmpty {
            let table = knobs.resolve.mapValues { $0.compactMap(IPAddress.init) }
            resolvers.append(StaticResolver(table))
        }
        resolvers.append(SystemResolver())
        let resolver: any Resolver = resolvers.count == 1 ? resolvers[0] : ResolverChain(resolvers, hedgeAfter: 1)
        let cache = DNSCache(
            configuration: .init(
                families: knobs.ipv4Only ? .ipv4Only : .both,
                resolver: resolver,
                lookupHedge: Double(knobs.lookupHedgeMs) / 1000
            ),
            logger: logger,
            metricsFactory: metricsFactory
        )
        // As curl's --resolve: the fixed answers are cached before the first open (the chain still answers them
        // should the cache ever re-resolve, after a failed connect).
        cache.seed(knobs.resolve.mapValues { $0.compactMap(IPAddress.init) })
        return cache
    }

    /// Resolves `prefetchHosts` now (in parallel), so the first open finds them cached.
    public func prefetch() async {
        guard let dnsCache, !knobs.prefetchHosts.isEmpty else { return }
        await dnsCache.prefetch(hosts: knobs.prefetchHosts)
    }

    /// Opens `url` to its first picture, closes it, and returns the report whether the open succeeded or not:
    /// what measuring tools (probe, sweep, bench) want.
    public func report(opening url: String) async -> FirstFrameReport {
        // Nothing is kept: the input is closed on the open's own thread, so the caller's (often Swift's cooperative
        // pool, which many opens at once starve of CPU) only gets the report back.
        let result = await run(url, events: nil) { stream in
            defer { stream.close() }
            return stream.report
        }
        switch result {
        case .success(let report): return report
        case .failure(let error): return error.report
        }
    }

    /// Opens `url` up to its first decoded picture.
    ///
    /// `prefetchHosts` not cached yet start resolving here without holding the open: if the open needs one of
    /// them, its lookup joins the resolution in flight, inside the open's clock and deadline (the wait shows as
    /// its `dns` stage).
    ///
    /// - Throws: ``OpenError`` with the failing stage and the partial report.
    public func open(_ url: String) async throws(OpenError) -> OpenedStream {
        try await open(url, events: nil)
    }

    /// The open, with `events` told what happens as it happens (on the open's thread: it must not block).
    func open(_ url: String, events: (@Sendable (OpenEvent) -> Void)?) async throws(OpenError) -> OpenedStream {
        try await run(url, events: events) { $0 }.get()
    }

    /// Runs an open on a thread of its own, `keep` on that thread after an open that succeeded (what the caller
    /// keeps of the stream), then emits the report's telemetry.
    private func run<Kept: Sendable>(
        _ url: String,
        events: (@Sendable (OpenEvent) -> Void)?,
        keep: @escaping @Sendable (OpenedStream) -> Kept
    ) async -> Result<Kept, OpenError> {
        // The caller's span, if any: the open's span is its child.
        let context = ServiceContext.current ?? .topLevel
        if let dnsCache, !knobs.prefetchHosts.isEmpty { dnsCache.startPrefetch(hosts: knobs.prefetchHosts) }
        let request = OpenRequest(
            url: url,
            knobs: knobs,
            presetName: presetName,
            dnsCache: dnsCache,
            events: events,
            logger: logger
        )
        let result: Result<(Kept, FirstFrameReport), OpenError>
        do {
            result = try await withTaskCancellationHandler {
                try await DedicatedThread.run(name: "FirstFrame.open") {
                    OpenRun.run(request).map { stream in (keep(stream), stream.report) }
                }
            } onCancel: {
                request.interrupter.cancel()
            }
        } catch {
            result = .failure(OpenError(report: request.failedReport(kind: .ffmpeg, message: "\(error)")))
        }
        switch result {
        case .success(let (_, report)):
            telemetry.emit(report, context: context)
            logger.debug(
                "opened",
                metadata: [
                    "url": "\(InputPolicy.redacted(url))",
                    "firstVideoFrameMs": "\(report.summary.firstVideoFrameMs ?? -1)",
                ]
            )
        case .failure(let error):
            telemetry.emit(error.report, context: context)
            logger.debug("open failed", metadata: ["url": "\(InputPolicy.redacted(url))", "error": "\(error)"])
        }
        return result.map(\.0)
    }
}
