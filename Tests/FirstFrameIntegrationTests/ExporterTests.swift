import FirstFrame
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension OriginTests {
    /// `firstframe exporter` as a process of its own (it bootstraps the metrics system, which a test process must
    /// not), probing the in-process origin: its `/probe` answer against the report it kept, the refusals, the
    /// schedule, reloads, and Debian's `prometheus` scraping it for real.
    @Suite(.serialized) struct ExporterTests {
        /// The `firstframe` executable next to the test bundle (both are products of the same build).
        static let executable: URL? = {
            let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            let candidate = bundle.appendingPathComponent("firstframe")
            return FileManager.default.isExecutableFile(atPath: candidate.path) ? candidate : nil
        }()

        // MARK: /probe against the report

        @Test(.enabled(if: ExporterTests.executable != nil, "the firstframe executable is not built next to the tests"))
        func probeAnswersWithTheSeriesOfItsOpen() async throws {
            try await withOrigin { origin in
                try await origin.prepareChannels(["room1"])
                let url = origin.url(.gop, channel: "room1")
                let exporter = try ExporterProcess(config: Self.config([("room1", url, nil)]))
                defer { exporter.stop() }

                let answer = try await exporter.get("/probe?target=room1")
                #expect(answer.status == 200, "\(answer.body)")
                #expect(answer.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
                let series = try Exposition(answer.body)
                report(
                    "exporter /probe?target=room1:\n"
                        + answer.body.split(separator: "\n").filter { !$0.hasPrefix("#") }.sorted().joined(
                            separator: "\n"
                        )
                )
                #expect(series.types["firstframe_probe_success"] == "gauge")
                #expect(series.value("firstframe_probe_success") == 1)
                #expect(series.samples(of: "firstframe_probe_failure_info").isEmpty)
                let first = try #require(series.value("firstframe_probe_first_picture_seconds"))
                let stages = series.samples(of: "firstframe_probe_stage_seconds")
                #expect(Set(stages.compactMap { $0.labels["stage"] }) == Set(Stage.allCases.map(\.rawValue)))
                let stageSum = stages.reduce(0) { $0 + $1.value }
                #expect(abs(stageSum - first) < 1e-6, "stages sum to \(stageSum) s, first picture \(first) s")
                let causes = series.samples(of: "firstframe_probe_cause_seconds")
                #expect(Set(causes.compactMap { $0.labels["cause"] }) == Set(Cause.allCases.map(\.rawValue)))
                let causeSum = causes.reduce(0) { $0 + $1.value }
                #expect(abs(causeSum - first) < 1e-6, "causes sum to \(causeSum) s, first picture \(first) s")
                let client = try #require(series.value("firstframe_probe_client_attributable_seconds"))
                #expect(client >= 0 && client <= first + 1e-9)
                #expect(series.value("firstframe_probe_http_status_code") == 200)
                #expect((series.value("firstframe_probe_hops") ?? 0) >= 1)
                #expect((series.value("firstframe_probe_connect_attempts") ?? 0) >= 1)
                #expect(series.samples(of: "firstframe_probe_dns_source_info").map(\.value) == [1])
                #expect((series.value("firstframe_probe_duration_seconds") ?? 0) >= first)

                // The report the exporter kept of that open says the same, to the bit.
                let kept = try await exporter.reports(target: "room1")
                let record = try #require(kept.last)
                #expect(kept.count == 1)
                #expect(record.target == "room1" && record.preset == "instant" && record.trigger == "probe")
                #expect(record.report.url == url)
                #expect(record.report.outcome == .ok)
                #expect(record.firstPictureSeconds == first)
                #expect(record.report.summary.firstVideoFrameMs.map { $0 / 1000 } == first)
                for sample in stages {
                    let stage = try #require(sample.labels["stage"].flatMap(Stage.init(rawValue:)))
                    #expect(record.report.summary[stage] / 1000 == sample.value, "\(stage)")
                }
                #expect(record.report.causes?.clientAttributableMs.map { $0 / 1000 } == client)
                #expect(record.report.hops.last?.status == 200)

                // By its exact URL the target is the same target (labelled by its name).
                let byURL = try await exporter.get("/probe?target=\(Self.encoded(url))")
                #expect(byURL.status == 200, "\(byURL.body)")
                #expect(try Exposition(byURL.body).value("firstframe_probe_success") == 1)
                #expect(try await exporter.reports(target: "room1").count == 2)
            }
        }

        // MARK: Refusals

        @Test(.enabled(if: ExporterTests.executable != nil, "the firstframe executable is not built next to the tests"))
        func targetsThatAreNotConfiguredAreRefused() async throws {
            try await withOrigin { origin in
                try await origin.prepareChannels(["room1"])
                let url = origin.url(.gop, channel: "room1")
                let exporter = try ExporterProcess(config: Self.config([("room1", url, nil)]))
                defer { exporter.stop() }

                let other = origin.url(.gop, channel: "other")
                let refusals: [(String, Int, String)] = [
                    ("/probe?target=\(Self.encoded(other))", 403, "not configured"),
                    ("/probe?target=file%3A%2F%2F%2Fetc%2Fpasswd", 403, "not configured"),
                    ("/probe", 400, "target parameter is missing"),
                    ("/probe?target=room1&preset=turbo", 400, "unknown preset"),
                    ("/probe?target=room1&timeout=-1", 400, "timeout must be"),
                    ("/nothing-here", 404, "not found"),
                ]
                for (path, status, message) in refusals {
                    let answer = try await exporter.get(path)
                    report("exporter \(path) → \(answer.status) \(answer.body.trimmingCharacters(in: .newlines))")
                    #expect(answer.status == status, "\(path): \(answer.body)")
                    #expect(answer.body.contains(message), "\(path): \(answer.body)")
                }
                // Nothing was opened: the origin never saw a viewer.
                #expect(origin.stats().peakActiveViewers == 0)

                #expect(try await exporter.get("/probe?target=room1").status == 200)
                let metrics = try Exposition(try await exporter.get("/metrics").body)
                #expect(metrics.value("firstframe_exporter_probe_request_errors_total", ["code": "403"]) == 2)
                #expect(metrics.value("firstframe_exporter_probe_request_errors_total", ["code": "400"]) == 3)
                #expect(
                    metrics.value("firstframe_exporter_probes_total", ["target": "room1", "trigger": "probe"]) == 1
                )
                #expect(
                    metrics.value(
                        "firstframe_target_first_picture_seconds_count",
                        ["target": "room1", "preset": "instant"]
                    ) == 1
                )
                #expect(metrics.value("firstframe_target_last_success", ["target": "room1"]) == 1)
                #expect((metrics.value("process_cpu_seconds_total") ?? 0) > 0)
                #expect((metrics.value("process_resident_memory_bytes") ?? 0) > 1_000_000)
                #expect(metrics.types["firstframe_target_stage_seconds"] == "histogram")
            }
        }

        @Test(
            .enabled(if: ExporterTests.executable != nil, "the firstframe executable is not built next to the tests"),
            arguments: InvalidExporterConfigurations.refusedAtStart
        )
        func anInvalidConfigurationStopsTheStart(_ json: String, _ message: String) async throws {
            let executable = try #require(Self.executable)
            let directory = try ScratchDirectory.make("exporter")
            defer { try? FileManager.default.removeItem(at: directory) }
            let file = directory.appendingPathComponent("bad.json")
            try json.write(to: file, atomically: true, encoding: .utf8)
            let process = try SpawnedProcess(
                executable.path,
                ["exporter", "--config", file.path, "--listen", "127.0.0.1:0"],
                output: directory.appendingPathComponent("out.log")
            )
            let exited = try await blocking { process.wait(timeout: 10) }
            if !exited { process.kill() }
            #expect(exited, "the exporter started with \(json)")
            let status = process.status ?? 0
            #expect(status & 0x7f == 0 && (status >> 8) & 0xff != 0, "exit status \(status)")
            #expect(process.printed.contains(message), "\(process.printed)")
            report("exporter --config with \(json) → \(process.printed.split(separator: "\n").first ?? "")")
        }

        // MARK: Schedule, any target, 429, reloads

        @Test(.enabled(if: ExporterTests.executable != nil, "the firstframe executable is not built next to the tests"))
        func scheduledTargetsAdhocURLsBusySlotsAndReloads() async throws {
            try await withOrigin { origin in
                try await origin.prepareChannels(["sched", "sched2", "adhoc", "slow"])
                let schedURL = origin.url(.gop, channel: "sched")
                let exporter = try ExporterProcess(
                    config: Self.config([("sched", schedURL, 1)], jitter: 0),
                    arguments: ["--allow-any-target", "--probe-concurrency", "1"]
                )
                defer { exporter.stop() }

                // The schedule probes on its own, every second.
                var metrics = try await exporter.waitForMetrics("two scheduled probes of sched") { metrics in
                    (metrics.value("firstframe_exporter_probes_total", ["target": "sched", "trigger": "schedule"]) ?? 0)
                        >= 2
                }
                #expect(
                    metrics.value(
                        "firstframe_target_last_success",
                        ["target": "sched", "preset": "instant", "region": "test"]
                    ) == 1
                )
                #expect(metrics.value("firstframe_target_last_first_picture_seconds", ["target": "sched"]) != nil)
                #expect(
                    (metrics.value("firstframe_target_stage_seconds_count", ["target": "sched", "stage": "decode"]) ?? 0)
                        >= 2
                )
                #expect(metrics.types["firstframe_exporter_schedule_delay_seconds"] == "histogram")
                let library = metrics.types.keys.filter { $0.hasPrefix("firstframe_open") }.sorted()
                report(
                    "exporter /metrics: the library's own series present: \(library.isEmpty ? "none yet" : library.joined(separator: ", "))"
                )

                // Any URL with --allow-any-target: labelled _adhoc, never by its URL; local files stay out.
                let adhoc = origin.url(.gop, channel: "adhoc")
                let adhocAnswer = try await exporter.get("/probe?target=\(Self.encoded(adhoc))")
                #expect(adhocAnswer.status == 200, "\(adhocAnswer.body)")
                #expect(try Exposition(adhocAnswer.body).value("firstframe_probe_success") == 1)
                let file = try await exporter.get("/probe?target=file%3A%2F%2F%2Fetc%2Fpasswd")
                #expect(file.status == 400, "\(file.body)")
                let text = try await exporter.get("/metrics").body
                metrics = try Exposition(text)
                #expect(metrics.value("firstframe_target_first_picture_seconds_count", ["target": "_adhoc"]) == 1)
                #expect(!text.contains("adhoc.flv") && !text.contains("sched.flv"), "a URL became a label value")

                // One /probe slot: of two slow opens asked for at once, the second is refused while the first holds it.
                let slow = origin.url(.gop, channel: "slow", behaviour: Behaviour(responseDelayMilliseconds: 2000))
                let slowPath = "/probe?target=\(Self.encoded(slow))&timeout=10"
                async let first = exporter.get(slowPath, timeout: 15)
                async let second = exporter.get(slowPath, timeout: 15)
                let answers = try await [first, second]
                #expect(answers.map(\.status).sorted() == [200, 429], "\(answers.map { "\($0.status) \($0.body)" })")
                if let refused = answers.first(where: { $0.status == 429 }) {
                    report(
                        "exporter, a second /probe while the only slot is taken → \(refused.status) \(refused.body.trimmingCharacters(in: .newlines))"
                    )
                }
                if let served = answers.first(where: { $0.status == 200 }) {
                    let slowSeries = try Exposition(served.body)
                    #expect(slowSeries.value("firstframe_probe_success") == 1)
                    #expect((slowSeries.value("firstframe_probe_first_picture_seconds") ?? 0) >= 1.9)
                }

                // A reload adds a target; a broken file keeps the running configuration.
                try Self.config(
                    [("sched", schedURL, 1), ("sched2", origin.url(.gop, channel: "sched2"), 1)],
                    jitter: 0
                )
                .write(to: exporter.configFile, atomically: true, encoding: .utf8)
                let reloaded = try await exporter.get("/-/reload", method: "POST")
                #expect(reloaded.status == 200, "\(reloaded.body)")
                metrics = try await exporter.waitForMetrics("a scheduled probe of sched2") { metrics in
                    metrics.value("firstframe_target_last_success", ["target": "sched2"]) == 1
                }
                #expect(metrics.value("firstframe_exporter_targets") == 2)
                #expect(metrics.value("firstframe_exporter_config_reloads_total", ["result": "success"]) == 2)
                try "{\"targets\": [{\"name\": \"x\", \"url\": \"http://a/b\", \"intervall\": 5}]}"
                    .write(to: exporter.configFile, atomically: true, encoding: .utf8)
                let broken = try await exporter.get("/-/reload", method: "POST")
                report(
                    "exporter, reload of a misspelt key → \(broken.status) \(broken.body.trimmingCharacters(in: .newlines))"
                )
                #expect(broken.status == 500 && broken.body.contains("unknown key \"intervall\""), "\(broken.body)")
                metrics = try Exposition(try await exporter.get("/metrics").body)
                #expect(metrics.value("firstframe_exporter_config_last_reload_successful") == 0)
                #expect(metrics.value("firstframe_exporter_targets") == 2)

                // SIGHUP: sched2 goes, and its last-probe series with it.
                try Self.config([("sched", schedURL, 1)], jitter: 0).write(
                    to: exporter.configFile,
                    atomically: true,
                    encoding: .utf8
                )
                exporter.process.signal(SIGHUP)
                metrics = try await exporter.waitForMetrics("sched2 gone after SIGHUP") { metrics in
                    metrics.value("firstframe_exporter_targets") == 1
                        && metrics.value("firstframe_target_last_success", ["target": "sched2"]) == nil
                }
                #expect(metrics.value("firstframe_exporter_config_last_reload_successful") == 1)

                // SIGTERM ends it cleanly, opens in flight included.
                exporter.process.signal(SIGTERM)
                #expect(exporter.process.wait(timeout: 10), "the exporter did not exit on SIGTERM")
                let status = exporter.process.status ?? -1
                #expect(
                    status & 0x7f == 0 && (status >> 8) & 0xff == 0,
                    "wait status \(status): \(exporter.process.printed)"
                )
            }
        }

        // MARK: Prometheus scraping it

        @Test(
            .enabled(if: ExporterTests.executable != nil, "the firstframe executable is not built next to the tests"),
            .enabled(
                if: PrometheusServer.unavailableReason == nil,
                "prometheus is not installed (Debian: prometheus): skipped"
            )
        )
        func prometheusScrapesTheExporter() async throws {
            try await withOrigin { origin in
                try await origin.prepareChannels(["room1"])
                let exporter = try ExporterProcess(
                    config: Self.config([("room1", origin.url(.gop, channel: "room1"), nil)])
                )
                defer { exporter.stop() }
                let address = "127.0.0.1:\(exporter.port)"
                // blackbox_exporter's pattern: /probe with the target as a parameter; the exporter's own /metrics.
                let prometheus = try await blocking {
                    try PrometheusServer(
                        scrapeConfigs: """
                              - job_name: firstframe_probe
                                metrics_path: /probe
                                params:
                                  target: [room1]
                                  preset: [instant]
                                static_configs:
                                  - targets: ['\(address)']
                              - job_name: firstframe_exporter
                                static_configs:
                                  - targets: ['\(address)']
                            """
                    )
                }
                defer { prometheus.stop() }

                // Bounded, polling Prometheus' API: until both jobs were scraped and the first picture is stored.
                var answer = ""
                var samples: [(labels: [String: String], value: Double)] = []
                var up: [(labels: [String: String], value: Double)] = []
                var probes: [(labels: [String: String], value: Double)] = []
                let deadline = MonotonicClock.nanoseconds() + 30_000_000_000
                while MonotonicClock.nanoseconds() < deadline {
                    answer = try await blocking { try prometheus.query("firstframe_probe_first_picture_seconds") }
                    samples = try PrometheusServer.vector(fromAnswer: answer)
                    up = try await blocking { try prometheus.vector("up == 1") }
                    // The exporter's own /metrics, scraped after a /probe scrape: the probe counted there too.
                    probes = try await blocking {
                        try prometheus.vector(
                            #"firstframe_exporter_probes_total{target="room1",job="firstframe_exporter"}"#
                        )
                    }
                    if !samples.isEmpty, up.count == 2, !probes.isEmpty { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                report("prometheus /api/v1/query?query=firstframe_probe_first_picture_seconds:\n\(answer)")
                let upAnswer = try await blocking { try prometheus.query("up") }
                report("prometheus /api/v1/query?query=up:\n\(upAnswer)")
                let sample = try #require(samples.first, "no sample stored; prometheus log:\n\(prometheus.log)")
                #expect(samples.count == 1)
                #expect(sample.labels["job"] == "firstframe_probe")
                #expect(sample.labels["instance"] == address)
                #expect(
                    Set(up.compactMap { $0.labels["job"] }) == ["firstframe_probe", "firstframe_exporter"],
                    "\(upAnswer)"
                )

                // The stored value is, to the bit, one the exporter produced (it keeps its last reports).
                let produced = try await exporter.reports(target: "room1").compactMap(\.firstPictureSeconds)
                report("prometheus stored \(sample.value) s; the exporter's last first pictures: \(produced.suffix(5))")
                #expect(produced.contains(sample.value))

                let success = try await blocking { try prometheus.vector("firstframe_probe_success") }
                #expect(success.map(\.value) == [1])
                #expect(probes.contains { $0.labels["trigger"] == "probe" && $0.value >= 1 }, "\(probes)")
            }
        }

        // MARK: Helpers

        /// A configuration of `targets` (name, URL, interval), each labelled `region: test`.
        static func config(_ targets: [(String, String, Double?)], jitter: Double = 0.1) -> String {
            let entries = targets.map { name, url, interval in
                "{\"name\": \"\(name)\", \"url\": \"\(url)\", \"preset\": \"instant\", \"labels\": {\"region\": \"test\"}"
                    + (interval.map { ", \"interval\": \($0)" } ?? "") + "}"
            }
            return "{\"targets\": [\(entries.joined(separator: ", "))], \"concurrency\": 2, \"jitter\": \(jitter)}\n"
        }

        static func encoded(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
        }
    }
}

/// `firstframe exporter --listen 127.0.0.1:0` with a configuration file, in a temporary directory; the port is read
/// from its first line of output.
final class ExporterProcess: Sendable {
    let process: SpawnedProcess
    let port: Int
    let directory: URL
    let configFile: URL

    struct Record: Decodable {
        var target: String
        var preset: String
        var trigger: String
        var firstPictureSeconds: Double?
        var report: FirstFrameReport
    }

    init(config: String, arguments: [String] = [], timeout: Double = 20) throws {
        let executable = try #require(OriginTests.ExporterTests.executable)
        directory = try ScratchDirectory.make("exporter")
        configFile = directory.appendingPathComponent("exporter.json")
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        process = try SpawnedProcess(
            executable.path,
            ["exporter", "--config", configFile.path, "--listen", "127.0.0.1:0"] + arguments,
            output: directory.appendingPathComponent("exporter.log")
        )
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeout * 1e9)
        var found: Int?
        while found == nil, MonotonicClock.nanoseconds() < deadline, !process.hasExited() {
            let printed = process.printed
            if let range = printed.range(of: #"listening on http://127\.0\.0\.1:\d+"#, options: .regularExpression) {
                found = Int(printed[range].split(separator: ":").last!)
            } else {
                usleep(20_000)
            }
        }
        guard let found else {
            let printed = process.printed
            process.kill()
            throw PrometheusServer.Failure("the exporter did not start listening: \(printed)")
        }
        port = found
    }

    func stop() {
        process.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    func get(_ path: String, method: String = "GET", timeout: Double = 10) async throws -> LoopbackHTTP.Answer {
        let url = "http://127.0.0.1:\(port)\(path)"
        return try await blocking { try LoopbackHTTP.get(url, method: method, timeout: timeout) }
    }

    func reports(target: String) async throws -> [Record] {
        let answer = try await get("/reports?target=\(target)")
        guard answer.status == 200 else { throw PrometheusServer.Failure("/reports: \(answer.status) \(answer.body)") }
        return try answer.body.split(separator: "\n").map { try JSONDecoder().decode(Record.self, from: Data($0.utf8)) }
    }

    /// Polls `/metrics` (bounded) until `condition` holds; the last answer, parsed.
    func waitForMetrics(
        _ what: String,
        timeout: Double = 20,
        _ condition: (Exposition) -> Bool
    ) async throws -> Exposition {
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeout * 1e9)
        var last = try Exposition(try await get("/metrics").body)
        while !condition(last) {
            guard MonotonicClock.nanoseconds() < deadline else {
                throw PrometheusServer.Failure("\(what): not within \(timeout) s; exporter output: \(process.printed)")
            }
            try await Task.sleep(for: .milliseconds(100))
            last = try Exposition(try await get("/metrics").body)
        }
        return last
    }
}
