import FirstFrame
import FirstFrameTestSupport
import OriginTestSupport
import Foundation
import Testing

@Suite struct TuningKnobsByName {
    @Test func everyKnobRoundTripsThroughItsText() throws {
        var knobs = Preset.instant.knobs
        knobs.prefetchHosts = ["a.test", "b.test"]
        knobs.resolve = ["a.test": ["127.0.0.1", "::1"]]
        knobs.stageDeadlines = [.dns: 250, .decode: 100]
        var rebuilt = TuningKnobs()
        for (name, value) in knobs.textValues { try rebuilt.set(name, value) }
        #expect(rebuilt == knobs)
        #expect(Set(knobs.textValues.map(\.name)) == Set(TuningKnobs.names))
    }

    @Test(arguments: [
        ("fpsprobesize", "-2"), ("probesize", "16"), ("formatprobesize", "100"), ("decoderThreads", "x"),
        ("skipStreamInfo", "maybe"), ("minVideoFrames", "-1"), ("resolve", "a.test=not-an-ip"),
        ("stageDeadlines", "warp=5"), ("stageDeadlines", "dns=0"), ("totalDeadline", "0"),
    ])
    func invalidValuesNameTheKnob(_ name: String, _ value: String) {
        var knobs = TuningKnobs()
        #expect {
            try knobs.set(name, value)
        } throws: { error in
            guard case KnobError.invalid(let knob, let text, _) = error else { return false }
            return knob == name && text == value && "\(error)".contains(name)
        }
    }

    @Test func unknownKnobAndPresetAreRejected() {
        var knobs = TuningKnobs()
        #expect(throws: KnobError.self) { try knobs.set("fastmode", "1") }
        #expect(throws: KnobError.unknownPreset("turbo")) { try Preset(named: "turbo") }
    }

    @Test func validateCatchesValuesSetInCode() {
        var knobs = TuningKnobs()
        knobs.probesize = 1
        #expect(throws: KnobError.self) { try knobs.validate() }
        #expect(throws: Never.self) { try Preset.fieldReport.knobs.validate() }
    }

    @Test func presetsSayWhatTheyAre() {
        #expect(Preset.ffmpeg.knobs == TuningKnobs())
        #expect(Preset.ffmpeg.knobs.formatOptions.isEmpty, "stock: no options at all")
        #expect(Preset.fieldReport.knobs.fpsprobesize == 0)
        #expect(Preset.fieldReport.knobs.bufferCheckIntervalMs == 50)
        #expect(Preset.fieldReport.knobs.minVideoFrames == 5)
        #expect(Preset.ijkplayer.knobs.firstHighWaterMarkMs == 100)
        let instant = Preset.instant.knobs
        #expect(instant.skipStreamInfo && instant.decoderThreads == 1 && instant.ipv4Only)
        #expect(instant.formatOptions.map(\.key) == ["fpsprobesize"])
    }

    @Test func knobsEncodeAsCamelCaseJSON() throws {
        var knobs = Preset.instant.knobs
        knobs.stageDeadlines = [.dns: 250]
        let json = String(decoding: try JSONEncoder().encode(knobs), as: UTF8.self)
        #expect(json.contains("\"skipStreamInfo\":true"))
        #expect(json.contains("\"stageDeadlines\":{\"dns\":250}"))
        #expect(try JSONDecoder().decode(TuningKnobs.self, from: Data(json.utf8)) == knobs)
    }
}
