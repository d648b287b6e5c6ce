import FirstFrame
import FirstFrameExporter
import FirstFrameFFmpeg
import FirstFrameTestSupport
import Foundation
import Testing

/// The exporter's rules, request by request, in this process: what `/probe`, `/metrics`, `/reports`, `/-/reload`
/// and the rest answer, and what they count. The opens here fail at once (a refused connection) or never start,
/// so nothing waits for a stream; `ProbeTests` opens the origin.
@Suite struct RequestHandlingTests {
    init() { FFmpegLog.level = .quiet }

    // MARK: Requests

    @Test func aRequestSplitsItsPathQueryAndHeaders() {
        let request = Exporter.Request(
            method: "GET",
            uri: "/probe?target=http%3A%2F%2Fh%2Fa.flv&preset=low+latency&preset=instant&flag",
            headers: [("X-Prometheus-Scrape-Timeout-Seconds", "10")]
        )
        #expect(request.path == "/probe")
        #expect(request.parameter("target") == "http://h/a.flv")
        #expect(request.parameter("preset") == "instant", "the last value wins")
        #expect(request.query.contains { $0 == ("preset", "low latency") }, "+ is a space")
        #expect(request.parameter("flag") == "")
        #expect(request.parameter("absent") == nil)
        #expect(request.header("x-prometheus-scrape-timeout-seconds") == "10", "header names in lower case")
        #expect(Exporter.Request(method: "GET", uri: "/%2D/healthy").path == "/-/healthy")
        #expect(Exporter.Request(method: "GET", uri: "/").query.isEmpty)
    }

    // MARK: Routes and refusals

    @Test(
        arguments: [
            ("GET", "/-/healthy", 200, "OK"),
            ("GET", "/-/ready", 200, "OK"),
            ("GET", "/nothing-here", 404, "not found"),
            ("POST", "/probe?target=room1", 405, "use GET"),
            ("DELETE", "/metrics", 405, "use GET"),
            ("GET", "/-/reload", 405, "use POST"),
            ("GET", "/reports?limit=x", 400, "limit must be"),
        ]
    )
    func routes(_ method: String, _ uri: String, _ status: Int, _ message: String) async throws {
        let fixture = try ExporterFixture(config: ExporterFixture.config([("room1", "http://127.0.0.1:9/a.flv", nil)]))
        defer { fixture.remove() }
        let answer = await fixture.respond(uri, method: method)
        #expect(answer.status == status, "\(method) \(uri): \(answer.body)")
        #expect(answer.body.contains(message), "\(method) \(uri): \(answer.body)")
        #expect(answer.contentType.hasPrefix("text/plain"))
    }

    /// The refusals of `/probe`, each counted by status on `/metrics`; none of them opens anything.
    @Test func probeRefusalsAreCountedAndOpenNothing() async throws {
        let fixture = try ExporterFixture(config: ExporterFixture.config([("room1", "http://127.0.0.1:9/a.flv", nil)]))
        defer { fixture.remove() }
        let refusals: [(String, Int, String)] = [
            ("/probe?target=\(ExporterFixture.encoded("http://127.0.0.1:9/other.flv"))", 403, "not configured"),
            ("/probe?target=file%3A%2F%2F%2Fetc%2Fpasswd", 403, "not configured"),
            ("/probe", 400, "target parameter is missing"),
            ("/probe?target=", 400, "target parameter is missing"),
            ("/probe?target=room1&preset=turbo", 400, "unknown preset"),
            ("/probe?target=room1&timeout=-1", 400, "timeout must be"),
            ("/probe?target=room1&timeout=3601", 400, "timeout must be"),
            ("/probe?target=room1&timeout=soon", 400, "timeout must be"),
        ]
        for (uri, status, message) in refusals {
            let answer = await fixture.respond(uri)
            #expect(answer.status == status, "\(uri): \(answer.body)")
            #expect(answer.body.contains(message), "\(uri): \(answer.body)")
        }
        let metrics = try await fixture.metrics()
        #expect(metrics.value("firstframe_exporter_probe_request_errors_total", ["code": "403"]) == 2)
        #expect(metrics.value("firstframe_exporter_probe_request_errors_total", ["code": "400"]) == 6)
        #expect(metrics.samples(of: "firstframe_exporter_probes_total").isEmpty, "nothing was opened")
        #expect(metrics.value("firstframe_exporter_probes_in_flight") == 0)
        #expect(try await fixture.reports().isEmpty)
    }

    /// With `allowAnyTarget`, a URL that is not configured is probed if it is http(s) or rtmp(s), never a file.
    @Test(
        arguments: [
            ("file:///etc/passwd", "neither a configured target"),
            ("ftp://127.0.0.1/x.flv", "neither a configured target"),
            ("room2", "neither a configured target"),
        ]
    )
    func anyTargetStillRefusesWhatIsNotANetworkURL(_ target: String, _ message: String) async throws {
        let fixture = try ExporterFixture(config: nil, options: .init(allowAnyTarget: true))
        defer { fixture.remove() }
        let answer = await fixture.respond("/probe?target=\(ExporterFixture.encoded(target))")
        #expect(answer.status == 400, "\(answer.body)")
        #expect(answer.body.contains(message), "\(answer.body)")
    }

    @Test func withoutConfigurationNothingMayBeProbedOrReloaded() async throws {
        let fixture = try ExporterFixture(config: nil)
        defer { fixture.remove() }
        let probe = await fixture.respond("/probe?target=\(ExporterFixture.encoded("http://127.0.0.1:9/a.flv"))")
        #expect(probe.status == 403 && probe.body.contains("--allow-any-target"), "\(probe.body)")
        let reload = await fixture.respond("/-/reload", method: "POST")
        #expect(reload.status == 400 && reload.body.contains("no --config"), "\(reload.body)")
    }

    /// `/` lists the routes and the targets, their URLs without the userinfo.
    @Test func theIndexListsTheTargetsWithoutTheirPasswords() async throws {
        let config = ExporterFixture.config([
            ("room1", "http://viewer:s3cret@127.0.0.1:9/live/room1.flv", nil),
            ("room2", "http://127.0.0.1:9/live/room2.flv", 15),
        ])
        let fixture = try ExporterFixture(config: config, options: .init(keepReports: 7))
        defer { fixture.remove() }
        let index = await fixture.respond("/")
        #expect(index.status == 200)
        #expect(index.body.contains("/probe?target=NAME") && index.body.contains("the last 7 probes"), "\(index.body)")
        #expect(index.body.contains("targets (2)"), "\(index.body)")
        #expect(index.body.contains("room1  instant  on request"), "\(index.body)")
        #expect(index.body.contains("room2  instant  every 15.0 s"), "\(index.body)")
        #expect(!index.body.contains("s3cret"), "\(index.body)")
    }

    // MARK: Deadlines and protocols of a probe

    /// The open's deadline: `?timeout=` wins; else Prometheus' scrape timeout less the offset, within the target's
    /// own timeout. A URL from a request never reaches local files; a configured target's may.
    @Test func theDeadlineAndProtocolsOfAProbe() async throws {
        let refused = try ExporterFixture.refusedURL()
        let config = """
            {"targets": [{"name": "capped", "url": "\(refused)", "timeout": 1},
                         {"name": "free", "url": "\(refused)"}]}
            """
        let fixture = try ExporterFixture(config: config, options: .init(allowAnyTarget: true, timeoutOffset: 0.5))
        defer { fixture.remove() }
        let scrape = [("X-Prometheus-Scrape-Timeout-Seconds", "3")]
        let cases: [(uri: String, headers: [(String, String)], deadline: Double, target: String)] = [
            ("/probe?target=free", scrape, 2.5, "free"),
            ("/probe?target=capped", scrape, 1, "capped"),
            ("/probe?target=capped&timeout=4", scrape, 4, "capped"),
            ("/probe?target=\(ExporterFixture.encoded(refused + "?adhoc"))&timeout=2", [], 2, "_adhoc"),
        ]
        for (uri, headers, deadline, target) in cases {
            let answer = await fixture.respond(uri, headers: headers)
            #expect(answer.status == 200, "\(uri): \(answer.body)")
            let series = try Exposition(answer.body)
            #expect(series.value("firstframe_probe_success") == 0, "\(uri)")
            let record = try #require(try await fixture.reports().last)
            #expect(record.target == target, "\(uri)")
            #expect(record.report.knobs.totalDeadline == deadline, "\(uri)")
            #expect(record.report.knobs.allowedProtocols.contains("file") == (target != "_adhoc"), "\(uri)")
        }
    }

    // MARK: Failed probes, and what is kept of them

    /// A failed open answers 200 with `success 0` and its stage and kind; the first picture and the causes are
    /// absent rather than 0. `/reports` keeps the last `keepReports`, oldest first.
    @Test func failedProbesAndTheReportsKept() async throws {
        let refused = try ExporterFixture.refusedURL()
        let fixture = try ExporterFixture(config: nil, options: .init(allowAnyTarget: true, keepReports: 2))
        defer { fixture.remove() }
        for _ in 0..<3 {
            let answer = await fixture.respond("/probe?target=\(ExporterFixture.encoded(refused))")
            #expect(answer.status == 200, "\(answer.body)")
            #expect(answer.contentType == Exporter.Response.prometheusText)
            let series = try Exposition(answer.body)
            #expect(series.value("firstframe_probe_success") == 0)
            #expect(series.value("firstframe_probe_failure_info", ["stage": "tcpConnect"]) == 1, "\(answer.body)")
            #expect(series.value("firstframe_probe_first_picture_seconds") == nil)
            #expect(series.value("firstframe_probe_connect_attempts").map { $0 >= 1 } == true)
        }
        let kept = try await fixture.reports()
        #expect(kept.count == 2)
        #expect(kept.map(\.endedAt) == kept.map(\.endedAt).sorted(), "oldest first")
        #expect(kept.allSatisfy { $0.target == "_adhoc" && $0.trigger == "probe" && $0.firstPictureSeconds == nil })
        #expect(kept.allSatisfy { $0.report.outcome == .failed && $0.report.url == refused })
        #expect(try await fixture.reports("?limit=1").map(\.endedAt) == [kept[1].endedAt])
        #expect(try await fixture.reports("?target=_adhoc").count == 2)
        #expect(try await fixture.reports("?target=room1").isEmpty)

        let metrics = try await fixture.metrics()
        #expect(metrics.value("firstframe_exporter_probes_total", ["target": "_adhoc", "trigger": "probe"]) == 3)
        #expect(metrics.value("firstframe_exporter_probe_failures_total", ["target": "_adhoc"]) == 3)
        #expect(metrics.samples(of: "firstframe_target_last_success").isEmpty, "no last-probe series for a URL")
        #expect(!metrics.samples.contains { $0.labels.values.contains(refused) }, "a URL became a label value")
    }

    /// What `/probe` writes for a report built by hand: the failure, and nothing the open did not reach.
    @Test func theExpositionOfAReportThatReachedNothing() throws {
        var report = FirstFrameReport(url: "http://h/a.flv", preset: "instant", knobs: Preset.instant.knobs)
        report.error = .init(stage: .dns, kind: .invalidKnob, message: "bad")
        let series = try Exposition(
            String(decoding: ProbeExposition.render(report, durationSeconds: 0.25), as: UTF8.self)
        )
        #expect(series.types["firstframe_probe_success"] == "gauge")
        #expect(series.value("firstframe_probe_success") == 0)
        #expect(series.value("firstframe_probe_duration_seconds") == 0.25)
        #expect(series.value("firstframe_probe_failure_info", ["stage": "dns", "kind": "invalidKnob"]) == 1)
        #expect(series.value("firstframe_probe_first_picture_seconds") == nil)
        #expect(series.samples(of: "firstframe_probe_cause_seconds").isEmpty)
        #expect(series.value("firstframe_probe_http_status_code") == nil)
        #expect(series.value("firstframe_probe_hops") == 0)
        let stages = series.samples(of: "firstframe_probe_stage_seconds")
        #expect(Set(stages.compactMap { $0.labels["stage"] }) == Set(Stage.allCases.map(\.rawValue)))
        #expect(stages.allSatisfy { $0.value == 0 })
    }

    // MARK: Configuration

    @Test(arguments: InvalidExporterConfigurations.refused)
    func anInvalidConfigurationIsRefused(_ json: String, _ message: String) {
        let error = #expect(throws: ExporterConfiguration.ConfigurationError.self) {
            try ExporterConfiguration.parse(Data(json.utf8))
        }
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
    }

    @Test func aConfigurationAsRead() throws {
        let configuration = try ExporterConfiguration.parse(
            Data(
                #"""
                {"targets": [{"name": "room1", "url": "http://edge/live/room1.flv", "preset": "ffmpeg", "interval": 15,
                              "timeout": 5, "labels": {"zone": "b", "region": "eu"},
                              "set": {"decoderThreads": 2, "quickAck": true}},
                             {"name": "room2", "url": "http://edge/live/room2.flv", "interval": 0}],
                 "concurrency": 8, "jitter": 0}
                """#.utf8
            )
        )
        #expect(configuration.concurrency == 8 && configuration.jitter == 0)
        let room1 = try #require(configuration.target(named: "room1"))
        #expect(room1.preset == .ffmpeg && room1.interval == 15 && room1.timeout == 5)
        #expect(room1.labels.map(\.0) == ["region", "zone"], "labels sorted by name")
        #expect(room1.settings.map(\.0) == ["decoderThreads", "quickAck"] && room1.settings.map(\.1) == ["2", "true"])
        let knobs = try room1.knobs()
        #expect(knobs.decoderThreads == 2 && knobs.quickAck && knobs.totalDeadline == 5)
        let room2 = try #require(configuration.target(named: "http://edge/live/room2.flv"), "by its exact URL")
        #expect(room2.name == "room2" && room2.interval == nil && room2.preset == .instant)
    }

    // MARK: Reloads

    /// A reload installs a new configuration and hands it to the schedule; a broken file keeps the running one.
    @Test func reloadsAndTheirFailures() async throws {
        let fixture = try ExporterFixture(config: ExporterFixture.config([("room1", "http://127.0.0.1:9/a.flv", nil)]))
        defer { fixture.remove() }
        var configurations = fixture.exporter.configurations.makeAsyncIterator()
        #expect(await configurations.next()?.targets.map(\.name) == ["room1"])

        try fixture.rewrite(
            ExporterFixture.config([
                ("room1", "http://127.0.0.1:9/a.flv", nil), ("room2", "http://127.0.0.1:9/b.flv", 5),
            ])
        )
        let reloaded = await fixture.respond("/-/reload", method: "POST")
        #expect(reloaded.status == 200 && reloaded.body.contains("reloaded: 2 targets"), "\(reloaded.body)")
        #expect(await configurations.next()?.targets.map(\.name) == ["room1", "room2"])

        try fixture.rewrite(#"{"targets": [{"name": "x", "url": "http://a/b", "intervall": 5}]}"#)
        let broken = await fixture.respond("/-/reload", method: "PUT")
        #expect(broken.status == 500 && broken.body.contains("unknown key \"intervall\""), "\(broken.body)")
        #expect(fixture.exporter.configuration.targets.map(\.name) == ["room1", "room2"])
        #expect(throws: ExporterConfiguration.ConfigurationError.self) { try fixture.exporter.reload() }

        let metrics = try await fixture.metrics()
        #expect(metrics.value("firstframe_exporter_targets") == 2)
        #expect(metrics.value("firstframe_exporter_config_reloads_total", ["result": "success"]) == 2)
        #expect(metrics.value("firstframe_exporter_config_reloads_total", ["result": "failure"]) == 2)
        #expect(metrics.value("firstframe_exporter_config_last_reload_successful") == 0)
        #expect((metrics.value("firstframe_exporter_config_last_reload_success_timestamp_seconds") ?? 0) > 0)
    }

    /// A target that a reload removes loses its last-probe series (its histograms stay); one that stays keeps them.
    @Test func aTargetThatGoesTakesItsLastProbeSeriesWithIt() async throws {
        let refused = try ExporterFixture.refusedURL()
        let fixture = try ExporterFixture(
            config: ExporterFixture.config([("room1", refused, nil), ("room2", refused, nil)])
        )
        defer { fixture.remove() }
        for name in ["room1", "room2"] { #expect(await fixture.respond("/probe?target=\(name)").status == 200) }
        var metrics = try await fixture.metrics()
        #expect(metrics.value("firstframe_target_last_success", ["target": "room1", "region": "test"]) == 0)
        #expect(metrics.value("firstframe_target_last_success", ["target": "room2", "region": "test"]) == 0)

        try fixture.rewrite(ExporterFixture.config([("room1", refused, nil)]))
        #expect(await fixture.respond("/-/reload", method: "POST").status == 200)
        metrics = try await fixture.metrics()
        #expect(metrics.value("firstframe_target_last_success", ["target": "room1"]) == 0)
        #expect(metrics.value("firstframe_target_last_success", ["target": "room2"]) == nil)
        #expect(metrics.value("firstframe_target_last_probe_timestamp_seconds", ["target": "room2"]) == nil)
        #expect(metrics.value("firstframe_exporter_probes_total", ["target": "room2"]) == 1, "counters stay")
    }

    @Test func aMissingConfigurationFileStopsTheStart() throws {
        let error = #expect(throws: ExporterConfiguration.ConfigurationError.self) {
            try Exporter(options: .init(configPath: "/nonexistent/firstframe-exporter.json"))
        }
        #expect(
            error?.description.contains("cannot read /nonexistent/firstframe-exporter.json") == true,
            "\(String(describing: error))"
        )
    }

    // MARK: /metrics

    @Test func metricsShowTheProcess() async throws {
        let fixture = try ExporterFixture(config: nil)
        defer { fixture.remove() }
        let answer = await fixture.respond("/metrics")
        #expect(answer.contentType == Exporter.Response.prometheusText)
        let metrics = try Exposition(answer.body)
        #expect((metrics.value("process_resident_memory_bytes") ?? 0) > 1_000_000)
        #expect((metrics.value("process_open_fds") ?? 0) > 0)
        #expect((metrics.value("process_threads") ?? 0) >= 1)
        #expect(metrics.types["process_cpu_seconds_total"] == "counter")
        #expect(metrics.value("firstframe_exporter_targets") == 0)
        #expect(metrics.value("firstframe_exporter_config_last_reload_successful") == 1)
    }
}
