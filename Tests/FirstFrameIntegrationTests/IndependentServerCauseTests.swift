import FirstFrame
import FirstFrameFFmpeg
import FirstFrameTestSupport
import Foundation
import Testing

/// Causes on a server the project did not write: FFmpeg's own HTTP server (`ffmpeg -listen 1`, chunked, FFmpeg's
/// FLV muxer, x264 with B-frames), joined mid-GOP at a known phase. The wait for the next keyframe is
/// `keyframeWait` whichever stage it fell in, and its length is the phase's.
extension OriginTests {
    @Suite(.enabled(if: MediaFixtures.isAvailable, "needs the ffmpeg CLI")) struct IndependentServerCauses {
        init() { FFmpegLog.level = .quiet }

        @Test(arguments: [Preset.instant, .ffmpeg])
        func aMidGOPJoinIsKeyframeWaitOfThePhasesLength(preset: Preset) async throws {
            let server = try FFmpegLiveServer(joinAt: 2.8)
            defer { server.stop() }
            let stream = try await StreamOpener(preset: preset).open(server.url)
            defer { stream.close() }
            let opened = stream.report
            try Causes.expectTiling(opened)
            let causes = try #require(opened.causes)
            #expect(causes.keyframeArrival == .network, "chunked HTTP: the arrival comes from the de-chunked body")
            let expectedMs = server.keyframeSendSeconds * 1000
            let stages =
                causes.spans.first { $0.cause == .keyframeWait }?.stages.map(\.rawValue).joined(separator: "+") ?? "-"
            report(
                "ffmpeg -listen, \(preset.rawValue), join at \(server.joinAt) s: keyframe wait \(String(format: "%.1f", causes[.keyframeWait])) ms (the file's dts say \(String(format: "%.1f", expectedMs)) ms; in \(stages)); "
                    + Causes.line(opened)
            )
            // -re paces packets by their dts from the first one read; it sleeps in steps and checks per packet,
            // so a packet can leave up to a frame late.
            #expect(abs(causes[.keyframeWait] - expectedMs) <= 20)
            #expect(opened.advice.contains { $0.remedy == .gopCache })
            // Not the server's time: the response head and the first media came at once.
            #expect(causes[.serverResponse] < causes[.keyframeWait])
        }
    }
}
