import FirstFrame
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

extension OriginTests.ExporterTests {
    /// One label name for the preset everywhere: the exporter's per-target series and the library's own
    /// `firstframe_open_*` series of the same probe say `preset="instant"` (a target that changes knobs too), and
    /// no series carries the `module` label the exporter used to add.
    @Test(
        .enabled(
            if: OriginTests.ExporterTests.executable != nil,
            "the firstframe executable is not built next to the tests"
        )
    )
    func thePresetLabelIsTheLibrarys() async throws {
        try await withOrigin { origin in
            try await origin.prepareChannels(["room1"])
            let config = """
                {"targets": [{"name": "room1", "url": "\(origin.url(.gop, channel: "room1"))", "preset": "instant",
                              "set": {"decoderThreads": 1}}]}
                """
            let exporter = try ExporterProcess(config: config)
            defer { exporter.stop() }
            let answer = try await exporter.get("/probe?target=room1")
            #expect(answer.status == 200, "\(answer.body)")
            let metrics = try await exporter.waitForMetrics("the probe's series") {
                $0.value("firstframe_target_first_picture_seconds_count", ["target": "room1"]) == 1
            }
            #expect(
                metrics.value(
                    "firstframe_target_first_picture_seconds_count",
                    ["target": "room1", "preset": "instant"]
                ) == 1
            )
            #expect(metrics.value("firstframe_target_last_success", ["target": "room1", "preset": "instant"]) == 1)
            let library = metrics.samples.filter { $0.name.hasPrefix("firstframe_open_") && $0.labels["preset"] != nil }
            #expect(
                !library.isEmpty && library.allSatisfy { $0.labels["preset"] == "instant" },
                "\(library.map(\.labels))"
            )
            let module = metrics.samples.filter { $0.labels["module"] != nil }
            #expect(module.isEmpty, "\(module.map(\.name))")
            #expect(try await exporter.reports(target: "room1").last?.preset == "instant")
        }
    }
}
