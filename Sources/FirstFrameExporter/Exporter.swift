import FirstFrame
import Foundation
import Logging
import Synchronization

/// The exporter behind `firstframe exporter`, HTTP aside: which targets may be probed, the probes themselves, what
/// is kept of them, and the answer to each request (``respond(to:)``), so the rules can be read in one place.
///
/// Embedding it takes what the command does: an `Exporter`, an ``ExporterHTTPServer`` that hands it the requests,
/// and ``ProbeScheduler/run(_:)`` for the targets with an interval. The application bootstraps swift-metrics (the
/// command with a `PrometheusMetricsFactory` on ``ExporterMetrics/registry``, so `/metrics` also shows the library's
/// own series); the exporter never does.
///
/// ```swift
/// let exporter = try Exporter(options: .init(configPath: "exporter.json"))
/// let server = try await ExporterHTTPServer.bind(host: "127.0.0.1", port: 9716)
/// try await withThrowingTaskGroup(of: Void.self) { group in
///     group.addTask { try await server.run(exporter) }
///     group.addTask { await ProbeScheduler.run(exporter) }
///     try await group.next()
/// }
/// ```
///
/// Each probe is one open by a fresh ``StreamOpener`` (no DNS cache or connection carried over from the previous
/// probe: what a player's first open after start-up pays), on its own thread as every open is.
public final class Exporter: Sendable {
    public struct Options: Sendable {
        /// The JSON configuration file (nil: no targets; `/probe` then needs `allowAnyTarget`).
        public var configPath: String?
        /// `/probe` may open any http(s)/rtmp(s) URL, not only configured targets.
        public var allowAnyTarget = false
        /// `/probe` opens running at once; more are answered 429.
        public var probeConcurrency = 4
        /// Probes kept for `/reports`.
        public var keepReports = 100
        /// Seconds taken off Prometheus' scrape timeout (`X-Prometheus-Scrape-Timeout-Seconds`) for the open's deadline.
        public var timeoutOffset = 0.5

        public init(
            configPath: String? = nil,
            allowAnyTarget: Bool = false,
            probeConcurrency: Int = 4,
            keepReports: Int = 100,
            timeoutOffset: Double = 0.5
        ) {
            self.configPath = configPath
            self.allowAnyTarget = allowAnyTarget
            self.probeConcurrency = probeConcurrency
            self.keepReports = keepReports
            self.timeoutOffset = timeoutOffset
        }
    }

    /// An HTTP request, as much of it as the exporter reads.
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var query: [(String, String)]
        /// Header names in lower case.
        public var headers: [(String, String)]

        /// Splits `/path?a=b&c=d` (form encoding: `+` is a space, `%XX` escapes).
        public init(method: String, uri: String, headers: [(String, String)] = []) {
            self.method = method
            self.headers = headers.map { ($0.0.lowercased(), $0.1) }
            let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            path = parts.first.map(String.init)?.removingPercentEncoding ?? String(parts.first ?? "/")
            query =
                parts.count > 1
                ? parts[1].split(separator: "&").map { pair in
                    let field = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    func decode(_ text: Substring?) -> String {
                        let spaced = (text ?? "").replacingOccurrences(of: "+", with: " ")
                        return spaced.removingPercentEncoding ?? spaced
                    }
                    return (decode(field.first), decode(field.count > 1 ? field[1] : nil))
                } : []
        }

        /// The last value of the query parameter `name`.
        public func parameter(_ name: String) -> String? { query.last { $0.0 == name }?.1 }
        /// The last value of the header `name` (in lower case).
        public func header(_ name: String) -> String? { headers.last { $0.0 == name }?.1 }
    }

    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]

        public init(status: Int, contentType: String, body: [UInt8]) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }

        public static let prometheusText = "text/plain; version=0.0.4; charset=utf-8"

        /// A plain-text answer: `message` and a newline.
        public static func text(_ status: Int, _ message: String) -> Response {
            Response(status: status, contentType: "text/plain; charset=utf-8", body: Array((message + "\n").utf8))
        }
    }

    /// One probe as `/reports` shows it: a JSON line.
    public struct ProbeRecord: Sendable, Encodable {
        public var target: String
        /// The preset the probe started from: the `preset` label of its series, as the library's own metrics say.
        public var preset: String
        public var trigger: ExporterMetrics.Trigger
        /// When the probe ended, seconds since 1970.
        public var endedAt: Double
        public var durationSeconds: Double
        /// What `firstframe_probe_first_picture_seconds` said (nil: the open failed).
        public var firstPictureSeconds: Double?
        public var report: FirstFrameReport
    }

    public let options: Options
    public let metrics: ExporterMetrics
    private let logger: Logger
    private let probeSlots: OpenSlots
    private let state: Mutex<State>
    private let updates: AsyncStream<ExporterConfiguration>.Continuation
    /// The configuration now, then each one a reload installs: what the schedule follows.
    public let configurations: AsyncStream<ExporterConfiguration>

    private struct State {
        var configuration: ExporterConfiguration
        var reports: [ProbeRecord] = []
        var nextReport = 0
    }

    /// Reads the configuration (when there is one); throws when it is invalid.
    /// - Parameter logger: where each probe's open logs (and FFmpeg's lines of it); nothing unless given.
    public init(
        options: Options,
        metrics: ExporterMetrics = ExporterMetrics(),
        logger: Logger = .disabled
    ) throws(ExporterConfiguration.ConfigurationError) {
        self.options = options
        self.metrics = metrics
        self.logger = logger
        probeSlots = OpenSlots(limit: options.probeConcurrency)
        let configuration: ExporterConfiguration
        do throws(ExporterConfiguration.ConfigurationError) {
            configuration = try options.configPath.map(ExporterConfiguration.load(from:)) ?? ExporterConfiguration()
        } catch {
            metrics.configurationLoaded(nil, wallClock: Date().timeIntervalSince1970)
            throw error
        }
        state = Mutex(State(configuration: configuration))
        (configurations, updates) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        metrics.configurationLoaded(configuration, wallClock: Date().timeIntervalSince1970)
        updates.yield(configuration)
    }

    /// The configuration in force.
    public var configuration: ExporterConfiguration { state.withLock { $0.configuration } }

    /// Reads the configuration file again (SIGHUP, `POST /-/reload`); on error the running one stays.
    public func reload() throws(ExporterConfiguration.ConfigurationError) {
        guard let path = options.configPath else { return }
        let configuration: ExporterConfiguration
        do throws(ExporterConfiguration.ConfigurationError) {
            configuration = try ExporterConfiguration.load(from: path)
        } catch {
            metrics.configurationLoaded(nil, wallClock: Date().timeIntervalSince1970)
            throw error
        }
        let changed = state.withLock { state in
            defer { state.configuration = configuration }
            return state.configuration != configuration
        }
        metrics.configurationLoaded(configuration, wallClock: Date().timeIntervalSince1970)
        if changed { updates.yield(configuration) }
    }

    /// Ends ``configurations``.
    public func finish() { updates.finish() }

    // MARK: Probing

    /// Opens `url` once and records the probe everywhere it goes (counters, histograms, last-probe gauges, the
    /// reports kept). `knobs` carry the deadline.
    public func probe(
        url: String,
        target: ExporterConfiguration.Target?,
        preset: Preset,
        knobs: TuningKnobs,
        trigger: ExporterMetrics.Trigger
    ) async -> ProbeRecord {
        metrics.probeStarted()
        let start = MonotonicClock.nanoseconds()
        let report: FirstFrameReport
        do {
            report = await (try StreamOpener(knobs: knobs, presetName: preset.rawValue, logger: logger)).report(
                opening: url
            )
        } catch {
            // Knobs are checked before they get here; keep a report anyway rather than trap.
            var failed = FirstFrameReport(url: InputPolicy.redacted(url), preset: preset.rawValue, knobs: knobs)
            failed.error = .init(stage: .dns, kind: .invalidKnob, message: "\(error)")
            report = failed
        }
        let duration = MonotonicClock.milliseconds(since: start) / 1000
        metrics.probeEnded()
        let now = Date().timeIntervalSince1970
        metrics.record(
            report,
            target: target,
            preset: preset.rawValue,
            trigger: trigger,
            durationSeconds: duration,
            wallClock: now
        )
        let record = ProbeRecord(
            target: target?.name ?? ExporterMetrics.adhocTarget,
            preset: preset.rawValue,
            trigger: trigger,
            endedAt: now,
            durationSeconds: duration,
            firstPictureSeconds: report.summary.firstVideoFrameMs.map { $0 / 1000 },
            report: report
        )
        keep(record)
        return record
    }

    /// A scheduled probe of a configured target.
    public func probe(_ target: ExporterConfiguration.Target) async -> ProbeRecord? {
        guard let knobs = try? target.knobs() else { return nil }  // checked when the configuration was read
        return await probe(url: target.url, target: target, preset: target.preset, knobs: knobs, trigger: .schedule)
    }

    private func keep(_ record: ProbeRecord) {
        guard options.keepReports > 0 else { return }
        state.withLock { state in
            if state.reports.count < options.keepReports {
                state.reports.append(record)
            } else {
                state.reports[state.nextReport] = record
            }
            state.nextReport = (state.nextReport + 1) % options.keepReports
        }
    }

    /// The kept probes, oldest first.
    public var keptReports: [ProbeRecord] {
        state.withLock { state in
            state.reports.count < options.keepReports
                ? state.reports
                : Array(state.reports[state.nextReport...] + state.reports[..<state.nextReport])
        }
    }

    // MARK: Requests

    /// The answer to `request`: `/probe`, `/metrics`, `/reports`, `/-/reload`, `/-/healthy`, `/-/ready` and `/`;
    /// 404 for anything else. What the HTTP listener (``ExporterHTTPServer``) hands every request to.
    public func respond(to request: Request) async -> Response {
        switch request.path {
        case "/probe":
            guard request.method == "GET" || request.method == "HEAD" else { return .text(405, "use GET") }
            let response = await probe(request)
            if response.status >= 400 { metrics.requestRejected(status: response.status) }
            return response
        case "/metrics":
            guard request.method == "GET" || request.method == "HEAD" else { return .text(405, "use GET") }
            metrics.updateProcess()
            var buffer: [UInt8] = []
            buffer.reserveCapacity(64 * 1024)
            metrics.registry.emit(into: &buffer)
            return Response(status: 200, contentType: Response.prometheusText, body: buffer)
        case "/reports":
            return reports(request)
        case "/-/reload":
            guard request.method == "POST" || request.method == "PUT" else { return .text(405, "use POST") }
            guard options.configPath != nil else { return .text(400, "no --config to reload") }
            do throws(ExporterConfiguration.ConfigurationError) {
                try reload()
                return .text(200, "reloaded: \(configuration.targets.count) targets")
            } catch {
                return .text(500, "reload failed, the previous configuration stays: \(error)")
            }
        case "/-/healthy", "/-/ready":
            return .text(200, "OK")
        case "/":
            return index()
        default:
            return .text(404, "not found: try /probe?target=NAME, /metrics, /reports")
        }
    }

    /// `/probe?target=NAME_OR_URL[&preset=P][&timeout=S]`.
    private func probe(_ request: Request) async -> Response {
        guard let name = request.parameter("target"), !name.isEmpty else {
            return .text(400, "the target parameter is missing: /probe?target=NAME (a configured target) or its URL")
        }
        let configured = configuration.target(named: name)
        if configured == nil {
            guard options.allowAnyTarget else {
                return .text(
                    403,
                    "target \"\(InputPolicy.redacted(name))\" is not configured (configured: "
                        + "\(configuration.targets.map(\.name).joined(separator: ", ")); --allow-any-target probes any URL)"
                )
            }
            let scheme = name.split(separator: ":", maxSplits: 1).first?.lowercased() ?? ""
            guard name.contains("://"), ["http", "https", "rtmp", "rtmps"].contains(scheme) else {
                return .text(
                    400,
                    "target \"\(InputPolicy.redacted(name))\" is neither a configured target nor an http(s):// or rtmp(s):// URL"
                )
            }
        }
        var preset = configured?.preset ?? .instant
        if let text = request.parameter("preset") {
            do throws(KnobError) { preset = try Preset(named: text) } catch { return .text(400, "\(error)") }
        }
        // The deadline: ?timeout= wins; else Prometheus' scrape timeout less the offset, within the target's own.
        var timeout: Double?
        if let text = request.parameter("timeout") {
            guard let seconds = Double(text), seconds > 0, seconds <= 3600 else {
                return .text(400, "timeout must be seconds in (0, 3600], got \"\(text)\"")
            }
            timeout = seconds
        } else if let text = request.header("x-prometheus-scrape-timeout-seconds"), let scrape = Double(text),
            scrape > 0
        {
            let seconds = max(scrape - options.timeoutOffset, min(scrape, 0.1))
            timeout = min(seconds, configured?.timeout ?? seconds)
        }
        var target =
            configured
            ?? ExporterConfiguration.Target(
                name: ExporterMetrics.adhocTarget,
                url: name,
                preset: preset,
                labels: [],
                settings: []
            )
        target.preset = preset
        var knobs: TuningKnobs
        do throws(ExporterConfiguration.ConfigurationError) {
            knobs = try target.knobs(timeout: timeout)
        } catch {
            return .text(400, "\(error)")
        }
        if configured == nil {
            // A URL from a request never reaches local files, whatever it redirects to.
            knobs.allowedProtocols.removeAll { $0 == "file" }
        }
        guard probeSlots.tryAcquire() else {
            return .text(429, "too many probes running (\(probeSlots.limit), --probe-concurrency); try again")
        }
        let record = await probe(url: target.url, target: configured, preset: preset, knobs: knobs, trigger: .probe)
        probeSlots.release()
        return Response(
            status: 200,
            contentType: Response.prometheusText,
            body: ProbeExposition.render(record.report, durationSeconds: record.durationSeconds)
        )
    }

    /// `/reports[?target=NAME][&limit=N]`: the kept probes as JSON Lines, oldest first.
    private func reports(_ request: Request) -> Response {
        var records = keptReports
        if let name = request.parameter("target") {
            let wanted = configuration.target(named: name)?.name ?? name
            records = records.filter { $0.target == wanted }
        }
        if let text = request.parameter("limit") {
            guard let limit = Int(text), limit >= 0 else { return .text(400, "limit must be a whole number") }
            records = Array(records.suffix(limit))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var body: [UInt8] = []
        for record in records {
            guard let data = try? encoder.encode(record) else { continue }
            body += data
            body.append(UInt8(ascii: "\n"))
        }
        return Response(status: 200, contentType: "application/x-ndjson; charset=utf-8", body: body)
    }

    private func index() -> Response {
        let configuration = configuration
        var lines = [
            "firstframe exporter",
            "",
            "  /probe?target=NAME[&preset=P][&timeout=S]   one open, its series (Prometheus text)",
            "  /metrics                                    the exporter's process, counters and per-target histograms",
            "  /reports[?target=NAME][&limit=N]            the last \(options.keepReports) probes, JSON Lines",
            "  POST /-/reload                              re-read the configuration (or SIGHUP)",
            "",
            "targets (\(configuration.targets.count)\(options.allowAnyTarget ? "; any http(s)/rtmp(s) URL allowed" : "")):",
        ]
        for target in configuration.targets {
            let schedule = target.interval.map { "every \($0) s" } ?? "on request"
            // As reports and logs show URLs: without the userinfo (a configured password never leaves the file).
            let preset =
                target.preset.rawValue + (target.settings.isEmpty ? "" : " (\(target.settings.count) knobs changed)")
            lines.append("  \(target.name)  \(preset)  \(schedule)  \(InputPolicy.redacted(target.url))")
        }
        return .text(200, lines.joined(separator: "\n"))
    }
}
