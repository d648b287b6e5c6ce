import FirstFrame
import FirstFrameFFmpeg
import FirstFrameNetwork
import FirstFrameTestSupport
import Foundation
import Testing

/// HLS from nginx-rtmp (a server the project did not write, HTTP/1.1 with keep-alive, MPEG-TS segments cut by
/// nginx from an x264 + AAC publisher): `instant` reaches its first picture from the first segment it fetched, on
/// two connections (the playlist's, the segment's), with no second segment requested before the picture. With
/// FFmpeg's HLS defaults (`http_multiple` auto, on for HTTP/1.1) the same open requests the next segment, on a
/// third connection, before it reads a byte of the first one's body.
@Suite(
    .serialized,
    .enabled(if: NginxRTMPServer.isAvailable, "\(NginxRTMPServer.unavailableReason ?? "")"),
    .enabled(if: NetworkTrace.isAvailable, "the hooks interpose libc only on Linux, without sanitizers")
)
struct HLSSegmentFetchTests {
    init() { FFmpegLog.level = .quiet }

    /// What one open fetched before its first picture: segment requests and new connections.
    struct Fetches: CustomStringConvertible {
        var segments: Int
        var connections: Int
        var firstPictureMs: Double

        init(_ report: FirstFrameReport) throws {
            let picture = try #require(report.summary.firstVideoFrameMs, "\(report.error?.message ?? "no picture")")
            firstPictureMs = picture
            let before = report.hops.filter { ($0.requestStartMs ?? .infinity) < picture }
            segments = before.count { $0.role == .segment }
            connections = before.count { !$0.reusedConnection && !$0.connects.isEmpty }
        }

        var description: String {
            String(format: "%d segment(s), %d connection(s), picture at %.1f ms", segments, connections, firstPictureMs)
        }
    }

    @Test func instantFetchesOneSegmentBeforeItsFirstPicture() async throws {
        let server = try NginxRTMPServer(streamName: "segments", hls: true)
        defer { server.stop() }
        let url = try #require(server.hlsURL)
        try server.waitForSegments(4)
        var ffmpegDefaults = Preset.instant.knobs
        ffmpegDefaults.httpMultiple = -1
        ffmpegDefaults.hlsSegmentProbesize = 0
        // Alternated, twice each: both see the same playlist state.
        for round in 1...2 {
            let instant = try Fetches(await StreamOpener(preset: .instant).report(opening: url))
            let defaults = try Fetches(
                await StreamOpener(knobs: ffmpegDefaults, presetName: "instant+").report(opening: url)
            )
            report("nginx HLS #\(round): instant \(instant); instant with FFmpeg's HLS defaults \(defaults)")
            #expect(instant.segments == 1, "\(instant)")
            #expect(instant.connections == 2, "\(instant)")
            // The test's own check: FFmpeg's default does fetch the next segment first, so the assertions above
            // would fail without the knob.
            #expect(defaults.segments == 2, "\(defaults)")
            #expect(defaults.connections == 3, "\(defaults)")
        }
    }

    /// The keyframe's transfer ends with the read that delivered its last byte; what the demuxer read after it,
    /// before handing the keyframe over, is the client's: the report names HLS's knobs for it, never bandwidth.
    @Test func theReadAheadIsTheClientsAndTheKeyframeArrivalIsTheNetworks() async throws {
        let server = try NginxRTMPServer(streamName: "readahead", hls: true)
        defer { server.stop() }
        let url = try #require(server.hlsURL)
        try server.waitForSegments(4)
        let opened = await StreamOpener(preset: .instant).report(opening: url)
        let causes = try #require(opened.causes, "\(opened.error?.message ?? "")")
        try OriginTests.Causes.expectTiling(opened)
        #expect(causes.keyframeArrival == .network, "the keyframe placed in the first segment's body")
        #expect(!opened.advice.contains { $0.remedy == .fastStart || $0.remedy == .warmEdge })
        let segment = try #require(opened.hops.first { $0.role == .segment })
        let response = try #require(segment.responseStartMs)
        // The keyframe's arrival lies inside the segment's body reads: after its response, before the picture.
        let keyframe = try #require(opened.milestones.firstKeyframeMs)
        #expect(keyframe >= response && keyframe <= (opened.summary.firstVideoFrameMs ?? 0))
    }
}
