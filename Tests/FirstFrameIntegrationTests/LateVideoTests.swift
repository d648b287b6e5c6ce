import FirstFrame
import FirstFrameFFmpeg
import FirstFrameTestSupport
import Foundation
import Testing

/// An edge that sends audio at once and holds video back until its next keyframe (nginx-rtmp does): `instant`
/// (which skips `find_stream_info`) waits for the announced video however long after the audio it comes, even
/// with `streamWaitMs` 0 — it used to give up on the video `streamWaitMs` after the audio and fail `noVideo`.
@Suite(.enabled(if: MediaFixtures.isAvailable, "needs the ffmpeg CLI")) struct LateVideoTests {
    init() { FFmpegLog.level = .quiet }

    @Test func announcedVideoAfterAllTheAudioIsWaitedFor() async throws {
        let file = Array(try Data(contentsOf: try MediaFixtures.files().audioVideoFLV))
        let (preamble, tags) = try MediaFixtures.flvTags(file)
        // Header (audio and video announced), metadata, every audio tag, then the video from its sequence header.
        let body =
            preamble + tags.filter { $0.type == 18 }.flatMap(\.bytes) + tags.filter { $0.type == 8 }.flatMap(\.bytes)
            + tags.filter { $0.type == 9 }.flatMap(\.bytes)
        let server = try ScriptedHTTPServer { _ in
            .http(200, headers: [("Content-Type", "video/x-flv")], body: body, contentLength: false)
        }
        defer { server.stop() }
        var knobs = Preset.instant.knobs
        try knobs.set("streamWaitMs", "0")
        let stream = try await StreamOpener(knobs: knobs, presetName: "instant+").open(
            server.baseURL + "/late-video.flv"
        )
        defer { stream.close() }
        #expect(stream.report.outcome == .ok)
        #expect(stream.report.streams.map(\.type).sorted { $0.rawValue < $1.rawValue } == [.audio, .video])
        #expect(stream.takeVideoDecoder()?.firstPicture.width == 320)
    }
}
