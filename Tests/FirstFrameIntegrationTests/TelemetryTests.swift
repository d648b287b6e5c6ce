import CoreMetrics
import FirstFrame
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import InMemoryTracing
import MetricsTestKit
import OriginTestSupport
import Testing
import Tracing

#if canImport(Glibc)
import Glibc
import FirstFrameNetwork
import FirstFrameFFmpeg
#endif

/// What an open sends to swift-metrics and swift-distributed-tracing, read back through `TestMetrics` and
/// `InMemoryTracer` given to the opener (nothing is bootstrapped): every timer is the report's figure to the
/// microsecond, every span starts and ends at `startedAt` + the report's milliseconds, and no label holds a URL.
extension OriginTests {
    @Suite struct TelemetryTests {
        init() { FFmpegLog.level = .quiet }

        /// A metrics factory and a tracer of the test's own.
        struct Sinks {
            let metrics = TestMetrics()
            let tracer = InMemoryTracer()

            func telemetry(labelsHost: Bool = false) -> Telemetry {
                Telemetry(metricsFactory: metrics, tracer: tracer, labelsHost: labelsHost)
            }
        }

        // MARK: Opens against the origin

        @Test func aSuccessfulOpensMetricsAndSpansAreTheReports() async throws {
            try await withOrigin { origin in
                let sinks = Sinks()
                var knobs = Preset.instant.knobs
                knobs.resolve = ["stream.test": ["127.0.0.1"]]
                let opener = try StreamOpener(knobs: knobs, presetName: "instant", telemetry: sinks.telemetry())
                let url = origin.url(host: "stream.test", .gop)
                // The caller's span: the open's is its child.
                let (stream, caller) = try await sinks.tracer.withSpan("caller") { span in
                    (try await opener.open(url), span.context.inMemorySpanContext)
                }
                defer { stream.close() }
                let opened = stream.report
                #expect(opened.outcome == .ok)
                try Self.expectMetrics(of: opened, in: sinks.metrics, preset: "instant", protocol: "http")
                let tree = try Self.expectSpans(of: opened, in: sinks.tracer)
                let callerSpan = try #require(caller)
                #expect(tree.open.parentSpanID == callerSpan.spanID)
                #expect(tree.open.traceID == callerSpan.traceID)

                let hop = try #require(opened.hops.first)
                let lookup = try #require(tree.children.first { $0.operationName == "DNS lookup stream.test" })
                #expect(lookup.attributes.get("dns.question.name") == .string("stream.test"))
                #expect(lookup.attributes.get("firstframe.dns.source") == .string("cache"))
                #expect(lookup.attributes.get("dns.answers") == .stringArray(["127.0.0.1"]))
                let connect = try #require(
                    tree.children.first { $0.operationName == "socket connect 127.0.0.1:\(origin.port)" }
                )
                #expect(connect.attributes.get("network.peer.address") == .string("127.0.0.1"))
                #expect(Self.int(connect.attributes.get("network.peer.port")) == Int64(origin.port))
                #expect(connect.attributes.get("server.address") == .string("stream.test"))
                #expect(connect.status?.code != .error)
                let request = try #require(tree.children.first { $0.operationName == "GET" })
                #expect(Self.int(request.attributes.get("http.response.status_code")) == 200)
                #expect(request.attributes.get("url.full") == hop.url.map { .string($0) })
                #expect(request.attributes.get("http.request.method") == .string("GET"))
                #expect(Self.int(request.attributes.get("server.port")) == Int64(origin.port))
                report(
                    "telemetry: \(sinks.metrics.timers.count) timers, \(sinks.metrics.counters.count) counters, "
                        + "\(sinks.tracer.finishedSpans.count - 1) spans for one open: "
                        + tree.children.map(\.operationName).joined(separator: ", ")
                )
                // The tree as a person reads it: each span's start and end in ms from the open's own start.
                let origin = Double(tree.open.startInstant.nanosecondsSinceEpoch)
                func line(_ span: FinishedInMemorySpan, _ depth: Int) -> String {
                    String(repeating: "  ", count: depth) + span.operationName
                        + String(
                            format: "  %.3f → %.3f ms",
                            (Double(span.startInstant.nanosecondsSinceEpoch) - origin) / 1e6,
                            (Double(span.endInstant.nanosecondsSinceEpoch) - origin) / 1e6
                        )
                }
                report(
                    "span tree:\n" + ([line(tree.open, 0)] + tree.children.map { line($0, 1) }).joined(separator: "\n")
                        + String(format: "\nreport: first picture %.3f ms", opened.summary.firstVideoFrameMs ?? -1)
                )
            }
        }

        /// A port where connects are refused: the failure counter says `stage=tcpConnect, kind=connect`, the
        /// connect span is an error with its `error.type`, and with `labelsHost` the host (never the URL) labels
        /// the series.
        @Test func aRefusedPortIsAConnectFailureInMetricsAndSpans() async throws {
            let closed = try ClosedPort()
            defer { closed.close() }
            let sinks = Sinks()
            var knobs = Preset.instant.knobs
            knobs.resolve = ["closed.test": ["127.0.0.1"]]
            let opener = try StreamOpener(
                knobs: knobs,
                presetName: "instant",
                telemetry: sinks.telemetry(labelsHost: true)
            )
            let opened = await opener.report(
                opening: "http://user:pw@closed.test:\(closed.port)/live/x.flv?token=secret"
            )
            #expect(opened.outcome == .failed)
            #expect(opened.error?.stage == .tcpConnect)
            #expect(opened.error?.kind == .connect)

            let base = [("preset", "instant"), ("protocol", "http"), ("host", "closed.test")]
            #expect(
                try sinks.metrics.expectCounter(
                    MetricNames.failures,
                    [("stage", "tcpConnect"), ("kind", "connect")] + base
                ).totalValue == 1
            )
            #expect(try sinks.metrics.expectCounter(MetricNames.opens, [("outcome", "failed")] + base).totalValue == 1)
            #expect(
                try sinks.metrics.expectCounter(MetricNames.connectAttempts, [("outcome", "failed")] + base).totalValue
                    >= 1
            )
            try Self.expectMetrics(
                of: opened,
                in: sinks.metrics,
                preset: "instant",
                protocol: "http",
                host: "closed.test"
            )

            let tree = try Self.expectSpans(of: opened, in: sinks.tracer)
            #expect(tree.open.parentSpanID == nil, "no caller span: a root")
            #expect(tree.open.status?.code == .error)
            #expect(tree.open.attributes.get("error.type") == .string("connect"))
            #expect(tree.open.attributes.get("firstframe.failure.stage") == .string("tcpConnect"))
            #expect(tree.open.attributes.get("firstframe.failure.kind") == .string("connect"))
            let connects = tree.children.filter { $0.operationName == "socket connect 127.0.0.1:\(closed.port)" }
            #expect(!connects.isEmpty)
            for connect in connects {
                #expect(connect.status?.code == .error)
                #expect(connect.attributes.get("error.type") == .string("Connection refused"))
                #expect(connect.attributes.get("firstframe.connect.outcome") == .string("failed"))
            }
            #expect(!tree.children.contains { $0.operationName == "GET" }, "no request went out")
            Self.expectNoURL(in: sinks, secrets: ["pw", "secret", "x.flv"])
        }

        /// The recorder's counters against its summary, through a drop and a reconnect.
        @Test func theRecordersCountersFollowItsSummary() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "telemetry-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            try await withOrigin { origin in
                let sinks = Sinks()
                let url = origin.url(.gop, behaviour: Behaviour(closeAfterMilliseconds: 1500))
                let recorder = try Recorder(
                    url: url,
                    path: directory.appendingPathComponent("room.ts").path,
                    configuration: .init(
                        reconnect: try ReconnectPolicy(initialDelay: 0.05, maximumDelay: 0.2, jitter: 0),
                        channel: "room"
                    ),
                    telemetry: sinks.telemetry()
                )
                let running = Task { await recorder.run() }
                let reached = try await eventually(timeout: 20) {
                    recorder.progress.reconnects >= 2 && recorder.progress.state == .recording
                        && recorder.progress.mediaSeconds > 4
                }
                #expect(reached, "progress: \(recorder.progress)")
                recorder.stop()
                let summary = await running.value
                let labels = [("protocol", "http"), ("channel", "room")]
                #expect(
                    try sinks.metrics.expectCounter(MetricNames.recorderBytes, labels).totalValue
                        == summary.bytesWritten
                )
                #expect(
                    try sinks.metrics.expectCounter(MetricNames.recorderReconnects, labels).totalValue
                        == Int64(summary.successfulOpens - 1)
                )
                #expect(
                    try sinks.metrics.expectCounter(MetricNames.recorderGaps, labels).totalValue
                        == Int64(summary.gaps.count)
                )
                let closedGaps = summary.gaps.compactMap(\.wallSeconds)
                let gapTimer = try sinks.metrics.expectTimer(MetricNames.recorderGapSeconds, labels)
                #expect(gapTimer.values.count == closedGaps.count)
                for (recorded, seconds) in zip(gapTimer.values, closedGaps) {
                    #expect(abs(Double(recorded) - seconds * 1e9) < 1000)
                }
                #expect(gapTimer.displayUnit == .seconds)
                // Each of the recorder's opens went through the same telemetry.
                #expect(sinks.metrics.counterTotal(label: MetricNames.opens) == Int64(summary.attempts))
                #expect(
                    sinks.tracer.finishedSpans.filter { $0.operationName == SpanNames.open }.count == summary.attempts
                )
                Self.expectNoURL(in: sinks, secrets: [])
                report(
                    "recorder telemetry: \(summary.successfulOpens) opens, \(summary.gaps.count) gaps "
                        + "(\(closedGaps.map { String(format: "%.3f s", $0) }.joined(separator: ", "))), \(summary.bytesWritten) bytes"
                )
            }
        }

        // MARK: Labels, without I/O

        /// Protocol labels stay in a bounded set, presets default to `custom`, and a report without `startedAt`
        /// (schema 1) still makes spans.
        @Test func protocolAndPresetLabelsAreBounded() throws {
            let cases: [(url: String, protocol: String)] = [
                ("http://cdn.test/live/a.flv", "http"),
                ("https://cdn.test/live/a.flv?token=x", "https"),
                ("https://cdn.test/live/index.m3u8?token=x", "hls"),
                ("rtmp://cdn.test/live/a", "rtmp"),
                ("rtmps://cdn.test/live/a", "rtmps"),
                ("/var/media/a.flv", "file"),
                ("file:/var/media/a.flv", "file"),
                ("nope://cdn.test/a", "other"),
            ]
            for (url, expected) in cases {
                let sinks = Sinks()
                var sample = FirstFrameReport(url: url, preset: nil, knobs: Preset.instant.knobs)
                sample.stages = [.init(name: .formatProbe, startMs: 0, endMs: 12.5)]
                sample.summary.formatProbeMs = 12.5
                sample.error = .init(stage: .formatProbe, kind: .invalidData, message: "bad")
                sinks.telemetry().emit(sample, context: .topLevel)
                #expect(throws: Never.self, "\(url)") {
                    try sinks.metrics.expectCounter(
                        MetricNames.opens,
                        [("preset", "custom"), ("protocol", expected), ("outcome", "failed")]
                    )
                }
                let spans = sinks.tracer.finishedSpans
                let open = try #require(spans.first { $0.operationName == SpanNames.open })
                let probe = try #require(spans.first { $0.operationName == "formatProbe" })
                #expect(probe.parentSpanID == open.spanID)
                #expect(probe.status?.code == .error)
                #expect(probe.endInstant.nanosecondsSinceEpoch - probe.startInstant.nanosecondsSinceEpoch == 12_500_000)
                Self.expectNoURL(in: sinks, secrets: [])
            }
        }

        /// Nothing at all is built when both sinks are the global no-op defaults.
        @Test func theGlobalNoOpSystemsCostNothing() {
            var sample = FirstFrameReport(url: "http://cdn.test/a.flv", preset: "instant", knobs: Preset.instant.knobs)
            sample.startedAt = Date().timeIntervalSince1970
            let telemetry = Telemetry()
            let iterations = 100_000
            let cpu = Self.threadCPU {
                for _ in 0..<iterations { telemetry.emit(sample, context: .topLevel) }
            }
            report(
                "telemetry emit with the unbootstrapped global systems: \(String(format: "%.0f", cpu / Double(iterations) * 1e9)) ns"
            )
        }

        // MARK: Cost

        /// The CPU of emitting one open's metrics and spans (into `TestMetrics` and `InMemoryTracer`, which lock and
        /// copy more than a production backend) next to the CPU of the open itself.
        @Test func emittingCostsLittleNextToAnOpen() async throws {
            let files = try MediaFixtures.files()
            try await withOrigin { origin in
                var knobs = Preset.instant.knobs
                knobs.resolve = ["stream.test": ["127.0.0.1"]]
                let opener = try StreamOpener(knobs: knobs, presetName: "instant")
                let url = origin.url(host: "stream.test", .gop)
                _ = await opener.report(opening: url)  // one-off costs (codec tables, lazy binding)

                // The open's CPU: the process's, less the origin's (its event-loop threads serve and tick the
                // channels; nothing else in the process uses NIO).
                let opens = 10
                var reports: [FirstFrameReport] = []
                let processStart = Self.processCPU()
                let originStart = Self.originCPU()
                for _ in 0..<opens { reports.append(await opener.report(opening: url)) }
                let openCPU = (Self.processCPU() - processStart) / Double(opens)
                let originCPU = (Self.originCPU() - originStart) / Double(opens)
                // A local file: no origin in the process at all.
                let fileOpener = StreamOpener(preset: .instant)
                _ = await fileOpener.report(opening: files.audioVideoFLV.path)
                let fileStart = Self.processCPU()
                for _ in 0..<opens { _ = await fileOpener.report(opening: files.audioVideoFLV.path) }
                let fileCPU = (Self.processCPU() - fileStart) / Double(opens)

                let opened = try #require(reports.last)
                #expect(opened.outcome == .ok)
                let sinks = Sinks()
                let telemetry = sinks.telemetry()
                telemetry.emit(opened, context: .topLevel)  // warm
                let emits = 200
                let emitCPU =
                    Self.threadCPU {
                        for _ in 0..<emits { telemetry.emit(opened, context: .topLevel) }
                    } / Double(emits)
                let metricsOnly = Telemetry(metricsFactory: sinks.metrics, tracer: NoOpTracer())
                let metricsCPU =
                    Self.threadCPU {
                        for _ in 0..<emits { metricsOnly.emit(opened, context: .topLevel) }
                    } / Double(emits)
                // The library's own share: sinks that take everything and keep nothing.
                let discarding = Telemetry(metricsFactory: DiscardingMetrics(), tracer: DiscardingTracer())
                discarding.emit(opened, context: .topLevel)
                let ownCPU =
                    Self.threadCPU {
                        for _ in 0..<emits { discarding.emit(opened, context: .topLevel) }
                    } / Double(emits)
                let liveOpenCPU = max(openCPU - originCPU, 1e-6)
                let spans = sinks.tracer.finishedSpans.count / (emits + 1)
                let series = sinks.metrics.timers.count + sinks.metrics.counters.count
                let emitLine = String(
                    format:
                        "emit %.1f µs CPU per open into TestMetrics+InMemoryTracer (metrics alone %.1f µs; %d spans, %d series), "
                        + "%.1f µs into sinks that keep nothing",
                    emitCPU * 1e6,
                    metricsCPU * 1e6,
                    spans,
                    series,
                    ownCPU * 1e6
                )
                let openLine = String(
                    format:
                        "open %.2f ms CPU without the origin's (%.2f ms with its %.2f ms) → %.2f %%; file open %.2f ms CPU → %.2f %%",
                    liveOpenCPU * 1e3,
                    openCPU * 1e3,
                    originCPU * 1e3,
                    emitCPU / liveOpenCPU * 100,
                    fileCPU * 1e3,
                    emitCPU / fileCPU * 100
                )
                report("telemetry cost (debug build): " + emitLine + "; " + openLine)
                // A debug build: the emit is all Swift (unoptimised here), the open mostly FFmpeg's optimised C, so
                // the ratio is several times what a release build shows. The library's own share (sinks that keep
                // nothing) stays under 5 % of the open's CPU; the test sinks, which keep every span and series, 15 %.
                #expect(ownCPU / liveOpenCPU < 0.05, "own \(ownCPU * 1e6) µs vs open \(liveOpenCPU * 1e3) ms")
                #expect(emitCPU / liveOpenCPU < 0.15, "emit \(emitCPU * 1e6) µs vs open \(liveOpenCPU * 1e3) ms")
            }
        }

        // MARK: Helpers

        /// Every stage and cause timer, the first picture, the counters: the report's figures, with bounded labels.
        static func expectMetrics(
            of report: FirstFrameReport,
            in metrics: TestMetrics,
            preset: String,
            protocol: String,
            host: String? = nil,
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            var base = [("preset", preset), ("protocol", `protocol`)]
            if let host { base.append(("host", host)) }
            let withOutcome = base + [("outcome", report.outcome.rawValue)]
            func expectNanoseconds(_ label: String, _ dimensions: [(String, String)], _ ms: Double) throws {
                let timer = try metrics.expectTimer(label, dimensions)
                let recorded = try #require(timer.lastValue, sourceLocation: sourceLocation)
                #expect(
                    abs(Double(recorded) - ms * 1e6) <= 1000,
                    "\(label) \(dimensions): \(recorded) ns, report \(ms) ms",
                    sourceLocation: sourceLocation
                )
                #expect(timer.displayUnit == .seconds, sourceLocation: sourceLocation)
            }
            let happened = Set(report.stages.map(\.name))
            #expect(!happened.isEmpty, sourceLocation: sourceLocation)
            for stage in happened {
                try expectNanoseconds(
                    MetricNames.stageSeconds,
                    [("stage", stage.rawValue)] + withOutcome,
                    report.summary[stage]
                )
            }
            #expect(
                metrics.timers(label: MetricNames.stageSeconds).count == happened.count,
                "only stages that happened",
                sourceLocation: sourceLocation
            )
            if let causes = report.causes {
                for cause in Cause.allCases {
                    try expectNanoseconds(
                        MetricNames.causeSeconds,
                        [("cause", cause.rawValue)] + withOutcome,
                        causes[cause]
                    )
                }
                if let client = causes.clientAttributableMs {
                    try expectNanoseconds(MetricNames.clientAttributableSeconds, base, client)
                }
            }
            if let picture = report.summary.firstVideoFrameMs {
                try expectNanoseconds(MetricNames.firstPictureSeconds, base, picture)
            } else {
                #expect(metrics.timers(label: MetricNames.firstPictureSeconds).isEmpty, sourceLocation: sourceLocation)
            }
            #expect(
                try metrics.expectCounter(MetricNames.opens, withOutcome).totalValue == 1,
                sourceLocation: sourceLocation
            )
            if let error = report.error {
                let dimensions = [("stage", error.stage.rawValue), ("kind", error.kind.rawValue)] + base
                #expect(
                    try metrics.expectCounter(MetricNames.failures, dimensions).totalValue == 1,
                    sourceLocation: sourceLocation
                )
            } else {
                #expect(metrics.counters(label: MetricNames.failures).isEmpty, sourceLocation: sourceLocation)
            }
            for source in Set(report.hops.compactMap(\.dns?.source)) {
                let expected = report.hops.filter { $0.dns?.source == source }.count
                #expect(
                    try metrics.expectCounter(MetricNames.dnsLookups, [("source", source.rawValue)] + withOutcome)
                        .totalValue
                        == Int64(expected),
                    sourceLocation: sourceLocation
                )
            }
            let attempts = report.hops.flatMap(\.connects)
            for outcome in Set(attempts.map(\.outcome)) {
                #expect(
                    try metrics.expectCounter(MetricNames.connectAttempts, [("outcome", outcome.rawValue)] + base)
                        .totalValue
                        == Int64(attempts.filter { $0.outcome == outcome }.count),
                    sourceLocation: sourceLocation
                )
            }
            for remedy in Set(report.advice.map(\.remedy)) {
                #expect(
                    try metrics.expectCounter(MetricNames.advice, [("remedy", remedy.rawValue)] + withOutcome)
                        .totalValue
                        == Int64(report.advice.filter { $0.remedy == remedy }.count),
                    sourceLocation: sourceLocation
                )
            }
            let labelNames = Set(
                (metrics.timers.flatMap(\.dimensions) + metrics.counters.flatMap(\.dimensions)).map(\.0)
            )
            #expect(
                labelNames.isSubset(of: [
                    "preset", "protocol", "outcome", "host", "stage", "cause", "kind", "source", "remedy",
                ]),
                "\(labelNames)",
                sourceLocation: sourceLocation
            )
            #expect(labelNames.contains("host") == (host != nil), sourceLocation: sourceLocation)
            for dimensions in metrics.timers.map(\.dimensions) + metrics.counters.map(\.dimensions) {
                #expect(
                    !dimensions.contains { $0.1 == report.url || $0.1.contains("://") || $0.1.contains("/") },
                    "a URL in \(dimensions)",
                    sourceLocation: sourceLocation
                )
            }
        }

        struct SpanTree {
            var open: FinishedInMemorySpan
            var children: [FinishedInMemorySpan]
        }

        /// The open span and its children: the names the report calls for, each starting and ending at `startedAt`
        /// plus the report's milliseconds, to the microsecond.
        static func expectSpans(
            of report: FirstFrameReport,
            in tracer: InMemoryTracer,
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws -> SpanTree {
            let spans = tracer.finishedSpans
            let opens = spans.filter { $0.operationName == SpanNames.open }
            #expect(opens.count == 1, sourceLocation: sourceLocation)
            let open = try #require(opens.first, sourceLocation: sourceLocation)
            #expect(open.kind == .client, sourceLocation: sourceLocation)
            let startedAt = try #require(report.startedAt, sourceLocation: sourceLocation)
            let originNs = startedAt * 1e9

            func expectTimes(_ span: FinishedInMemorySpan, _ startMs: Double, _ endMs: Double) {
                let start = Double(span.startInstant.nanosecondsSinceEpoch)
                let end = Double(span.endInstant.nanosecondsSinceEpoch)
                // startedAt is a Double of seconds since 1970: exact to ~0.25 µs at today's dates.
                #expect(
                    abs(start - (originNs + startMs * 1e6)) <= 1000,
                    "\(span.operationName) starts at \(start)",
                    sourceLocation: sourceLocation
                )
                #expect(
                    abs(end - (originNs + endMs * 1e6)) <= 1000,
                    "\(span.operationName) ends at \(end)",
                    sourceLocation: sourceLocation
                )
                let duration = span.endInstant.nanosecondsSinceEpoch - span.startInstant.nanosecondsSinceEpoch
                #expect(
                    abs(Double(duration) - (endMs - startMs) * 1e6) <= 1000,
                    "\(span.operationName) lasts \(duration) ns",
                    sourceLocation: sourceLocation
                )
            }
            let endMs = report.summary.firstVideoFrameMs ?? report.stages.last?.endMs ?? 0
            expectTimes(open, 0, endMs)
            #expect(open.attributes.get("url.full") == .string(report.url), sourceLocation: sourceLocation)
            #expect(
                open.attributes.get("firstframe.outcome") == .string(report.outcome.rawValue),
                sourceLocation: sourceLocation
            )
            #expect(
                open.attributes.get("firstframe.preset") == .string(report.preset ?? "custom"),
                sourceLocation: sourceLocation
            )
            if let picture = report.summary.firstVideoFrameMs {
                #expect(
                    open.attributes.get("firstframe.first_picture_ms") == .double(picture),
                    sourceLocation: sourceLocation
                )
                let event = open.events.first { $0.name == "first video frame" }
                #expect(
                    event.map { abs(Double($0.nanosecondsSinceEpoch) - (originNs + picture * 1e6)) <= 1000 } == true,
                    sourceLocation: sourceLocation
                )
            }
            if let causes = report.causes {
                #expect(
                    open.attributes.get("firstframe.cause.keyframe_wait_ms") == .double(causes[.keyframeWait]),
                    sourceLocation: sourceLocation
                )
                for cause in Cause.allCases {
                    let present = open.attributes.get("firstframe.cause.\(Self.snakeCase(cause.rawValue))_ms")
                    #expect(present == .double(causes[cause]), "\(cause)", sourceLocation: sourceLocation)
                }
            }

            // The children the report calls for, and their times.
            let children = spans.filter { $0.parentSpanID == open.spanID }
            #expect(children.allSatisfy { $0.traceID == open.traceID }, sourceLocation: sourceLocation)
            var expected: [(name: String, startMs: Double, endMs: Double)] = []
            for hop in report.hops {
                if let lookup = hop.dns {
                    expected.append(("DNS lookup \(lookup.host)", lookup.startMs, lookup.endMs ?? endMs))
                }
                for attempt in hop.connects {
                    expected.append(
                        ("socket connect \(attempt.address):\(attempt.port)", attempt.startMs, attempt.endMs ?? endMs)
                    )
                }
                if let tls = hop.tls {
                    expected.append(("TLS client handshake \(hop.host ?? "-")", tls.startMs, tls.endMs ?? endMs))
                }
                if hop.rtmp == nil, let request = hop.requestStartMs {
                    expected.append(("GET", request, hop.responseStartMs ?? endMs))
                }
            }
            for stage in report.stages where !stage.name.isNetwork {
                expected.append((stage.name.rawValue, stage.startMs, stage.endMs))
            }
            let names = children.map(\.operationName).filter { $0 != SpanNames.rtmpPlay }
            #expect(names.sorted() == expected.map(\.name).sorted(), sourceLocation: sourceLocation)
            var unmatched = children
            for want in expected {
                guard let index = unmatched.firstIndex(where: { $0.operationName == want.name }) else { continue }
                expectTimes(unmatched.remove(at: index), want.startMs, want.endMs)
            }
            return SpanTree(open: open, children: children)
        }

        /// No label value and no span attribute but `url.full` holds the URL or any of `secrets`.
        static func expectNoURL(in sinks: Sinks, secrets: [String], sourceLocation: SourceLocation = #_sourceLocation) {
            let values = (sinks.metrics.timers.flatMap(\.dimensions) + sinks.metrics.counters.flatMap(\.dimensions))
                .map(\.1)
            for value in values {
                #expect(
                    !value.contains("://") && !value.contains("/"),
                    "a URL in a label: \(value)",
                    sourceLocation: sourceLocation
                )
                for secret in secrets {
                    #expect(!value.contains(secret), "\(secret) in a label", sourceLocation: sourceLocation)
                }
            }
            for span in sinks.tracer.finishedSpans {
                // swift-format-ignore: ReplaceForEachWithForLoop
                // (SpanAttributes is not a Sequence: forEach is its own method.)
                span.attributes.forEach { key, value in
                    guard case .string(let text) = value, key != "url.full" else { return }
                    #expect(
                        !text.contains("://"),
                        "\(key) = \(text) on \(span.operationName)",
                        sourceLocation: sourceLocation
                    )
                }
                #expect(!span.operationName.contains("://"), sourceLocation: sourceLocation)
            }
            // url.full is the report's: its userinfo redacted.
            for span in sinks.tracer.finishedSpans {
                if case .string(let url) = span.attributes.get("url.full") {
                    #expect(!url.contains("pw@"), sourceLocation: sourceLocation)
                }
            }
        }

        static func int(_ attribute: SpanAttribute?) -> Int64? {
            switch attribute {
            case .int64(let value): value
            case .int32(let value): Int64(value)
            default: nil
            }
        }

        static func snakeCase(_ name: String) -> String {
            name.reduce(into: "") { result, character in
                if character.isUppercase { result += "_" + character.lowercased() } else { result.append(character) }
            }
        }

        /// Seconds of CPU the calling thread spends in `body`.
        static func threadCPU(_ body: () -> Void) -> Double {
            var start = timespec()
            var end = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start)
            body()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end)
            return Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
        }

        /// Seconds of CPU the origin's event-loop threads (`NIO-ELT-…`) have used (Linux schedstat, in ns).
        static func originCPU() -> Double {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
            var total = 0.0
            for task in tasks {
                guard let name = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                    name.hasPrefix("NIO-ELT"),
                    let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/schedstat", encoding: .utf8),
                    let nanoseconds = stat.split(separator: " ").first.flatMap({ Double($0) })
                else { continue }
                total += nanoseconds / 1e9
            }
            return total
        }

        /// Seconds of CPU the whole process has used.
        static func processCPU() -> Double {
            var now = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
            return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        }
    }
}

/// Metrics that go nowhere, but are not the global no-op (so the library builds every series).
final class DiscardingMetrics: MetricsFactory {
    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        NOOPMetricsHandler.instance
    }
    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler { NOOPMetricsHandler.instance }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        NOOPMetricsHandler.instance
    }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { NOOPMetricsHandler.instance }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

/// A tracer whose spans record (so the library sets every attribute) and keep nothing.
struct DiscardingTracer: Tracer {
    struct Span: Tracing.Span {
        let context: ServiceContext
        var isRecording: Bool { true }
        var operationName: String {
            get { "" }
            nonmutating set {}
        }
        var attributes: SpanAttributes {
            get { [:] }
            nonmutating set {}
        }
        func setStatus(_ status: SpanStatus) {}
        func addLink(_ link: SpanLink) {}
        func addEvent(_ event: SpanEvent) {}
        func recordError<Instant: TracerInstant>(
            _ error: any Error,
            attributes: SpanAttributes,
            at instant: @autoclosure () -> Instant
        ) {}
        func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) { _ = instant() }
    }

    func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> Span {
        _ = instant()
        return Span(context: context())
    }

    func startAnySpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> any Tracing.Span {
        startSpan(
            operationName,
            context: context(),
            ofKind: kind,
            at: instant(),
            function: function,
            file: fileID,
            line: line
        )
    }

    func forceFlush() {}
    func inject<Carrier, Inject: Injector>(
        _ context: ServiceContext,
        into carrier: inout Carrier,
        using injector: Inject
    )
    where Inject.Carrier == Carrier {}
    func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier,
        into context: inout ServiceContext,
        using extractor: Extract
    )
    where Extract.Carrier == Carrier {}
}

/// An RTMP open against nginx-rtmp: the hop is an `RTMP play` span with a child per RTMP phase, and no `GET`.
@Suite(
    .serialized,
    .enabled(if: NginxRTMPServer.isAvailable, "\(NginxRTMPServer.unavailableReason ?? "")"),
    .enabled(if: NetworkTrace.isAvailable, "the hooks interpose libc only on Linux, without sanitizers")
)
struct RTMPTelemetryTests {
    init() { FFmpegLog.level = .quiet }

    @Test func anRTMPHopIsASessionSpanWithItsPhases() async throws {
        let server = try NginxRTMPServer(streamName: "telemetry")
        defer { server.stop() }
        let sinks = OriginTests.TelemetryTests.Sinks()
        let opener = StreamOpener(preset: .instant, telemetry: sinks.telemetry())
        let stream = try await opener.open(server.url)
        stream.close()
        let opened = stream.report
        try OriginTests.TelemetryTests.expectMetrics(of: opened, in: sinks.metrics, preset: "instant", protocol: "rtmp")
        let tree = try OriginTests.TelemetryTests.expectSpans(of: opened, in: sinks.tracer)
        let rtmp = try #require(opened.hops.first?.rtmp)
        let session = try #require(tree.children.first { $0.operationName == SpanNames.rtmpPlay })
        #expect(!tree.children.contains { $0.operationName == "GET" })
        let phases = sinks.tracer.finishedSpans.filter { $0.parentSpanID == session.spanID }
        #expect(phases.map(\.operationName) == rtmp.phases.map { "rtmp.\($0.name)" })
        let startedAt = try #require(opened.startedAt) * 1e9
        for (span, phase) in zip(phases, rtmp.phases) {
            let start = Double(span.startInstant.nanosecondsSinceEpoch)
            #expect(abs(start - (startedAt + phase.startMs * 1e6)) <= 1000)
            if let end = phase.endMs {
                #expect(abs(Double(span.endInstant.nanosecondsSinceEpoch) - (startedAt + end * 1e6)) <= 1000)
            }
        }
        if let firstMedia = rtmp.firstMediaByteMs {
            #expect(abs(Double(session.endInstant.nanosecondsSinceEpoch) - (startedAt + firstMedia * 1e6)) <= 1000)
        }
        report(
            "RTMP spans: "
                + ([session] + phases).map {
                    String(
                        format: "%@ %.1f ms",
                        $0.operationName,
                        Double($0.endInstant.nanosecondsSinceEpoch - $0.startInstant.nanosecondsSinceEpoch) / 1e6
                    )
                }.joined(separator: ", ")
        )
    }
}
