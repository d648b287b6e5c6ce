import FirstFrame
import FirstFrameExporter
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

/// Probes that reach a picture, on the in-process origin: the `/probe` answer against the report the exporter
/// kept of the same open, the per-target series on `/metrics`, and the one-slot refusal (429).
@Suite(.serialized) struct ProbeTests {
    init() { FFmpegLog.level = .quiet }

    @Test func probeAnswersWithTheSeriesOfItsOpen() async throws {
        try await withOrigin { origin in
            try await origin.prepareChannels(["room1"])
            let url = origin.url(.gop, channel: "room1")
            let fixture = try ExporterFixture(config: ExporterFixture.config([("room1", url, nil)]))
            defer { fixture.remove() }

            let answer = await fixture.respond("/probe?target=room1")
            #expect(answer.status == 200, "\(answer.body)")
            #expect(answer.contentType == Exporter.Response.prometheusText)
            let series = try Exposition(answer.body)
            #expect(series.value("firstframe_probe_success") == 1)
            #expect(series.samples(of: "firstframe_probe_failure_info").isEmpty)
            let first = try #require(series.value("firstframe_probe_first_picture_seconds"))
            let stages = series.samples(of: "firstframe_probe_stage_seconds")
            #expect(Set(stages.compactMap { $0.labels["stage"] }) == Set(Stage.allCases.map(\.rawValue)))
            let stageSum = stages.reduce(0) { $0 + $1.value }
            #expect(abs(stageSum - first) < 1e-6, "stages sum to \(stageSum) s, first picture \(first) s")
            let causeSum = series.samples(of: "firstframe_probe_cause_seconds").reduce(0) { $0 + $1.value }
            #expect(abs(causeSum - first) < 1e-6, "causes sum to \(causeSum) s, first picture \(first) s")
            #expect(series.value("firstframe_probe_http_status_code") == 200)
            #expect((series.value("firstframe_probe_duration_seconds") ?? 0) >= first)

            // The report kept of that open says the same, to the bit.
            let kept = try await fixture.reports("?target=room1")
            let record = try #require(kept.last)
            #expect(kept.count == 1)
            #expect(record.target == "room1" && record.preset == "instant" && record.trigger == "probe")
            #expect(record.report.url == url && record.report.outcome == .ok)
            #expect(record.firstPictureSeconds == first)
            for sample in stages {
                let stage = try #require(sample.labels["stage"].flatMap(Stage.init(rawValue:)))
                #expect(record.report.summary[stage] / 1000 == sample.value, "\(stage)")
            }

            // By its exact URL it is the same target, labelled by its name.
            let byURL = await fixture.respond("/probe?target=\(ExporterFixture.encoded(url))")
            #expect(byURL.status == 200, "\(byURL.body)")
            #expect(try await fixture.reports("?target=room1").count == 2)

            let metrics = try await fixture.metrics()
            let labels = ["target": "room1", "preset": "instant", "region": "test"]
            #expect(metrics.value("firstframe_target_first_picture_seconds_count", labels) == 2)
            #expect(metrics.value("firstframe_target_last_success", labels) == 1)
            #expect(metrics.value("firstframe_target_last_first_picture_seconds", labels) != nil)
            #expect(metrics.types["firstframe_target_stage_seconds"] == "histogram")
            #expect(
                metrics.value("firstframe_exporter_probes_total", ["target": "room1", "trigger": "probe"]) == 2
            )
            #expect(metrics.value("firstframe_exporter_probes_in_flight") == 0)
        }
    }

    /// With one `/probe` slot, a second probe while the first holds it is refused at once, and counted.
    @Test func aSecondProbeWhileTheOnlySlotIsTakenIsRefused() async throws {
        let listener = try BlockedListener()
        let slow = "http://127.0.0.1:\(listener.port)/live/slow.flv"
        let fixture = try ExporterFixture(
            config: nil,
            options: .init(allowAnyTarget: true, probeConcurrency: 1)
        )
        defer { fixture.remove() }
        let path = "/probe?target=\(ExporterFixture.encoded(slow))&timeout=2"
        let first = Task { await fixture.respond(path) }
        // The first probe holds the slot once it is in flight (its connect is never accepted: it ends at 2 s).
        var inFlight = false
        for _ in 0..<200 where !inFlight {
            inFlight = try await fixture.metrics().value("firstframe_exporter_probes_in_flight") == 1
            if !inFlight { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(inFlight, "the first probe never started")
        let second = await fixture.respond(path)
        #expect(second.status == 429 && second.body.contains("too many probes running (1"), "\(second.body)")
        let answered = await first.value
        #expect(answered.status == 200, "\(answered.body)")
        #expect(try Exposition(answered.body).value("firstframe_probe_success") == 0)
        let metrics = try await fixture.metrics()
        #expect(metrics.value("firstframe_exporter_probe_request_errors_total", ["code": "429"]) == 1)
        #expect(metrics.value("firstframe_exporter_probes_in_flight") == 0)
        // The slot came back: the next probe is served.
        #expect(await fixture.respond(path.replacingOccurrences(of: "timeout=2", with: "timeout=0.2")).status == 200)
        withExtendedLifetime(listener) {}
    }
}
