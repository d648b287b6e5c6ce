import FirstFrame
import FirstFrameFFmpeg
import FirstFrameNetwork
import FirstFrameTestSupport
import Foundation
import Testing

/// The opener against nginx-rtmp (a server the project did not write, no GOP cache, fed by `ffmpeg -re` with x264's
/// B-frames): RTMP's command exchange is its own cause, the wait for the next keyframe is `keyframeWait` as on
/// HTTP-FLV, and the report's hop carries the RTMP phases.
@Suite(
    .serialized,
    .enabled(if: NginxRTMPServer.isAvailable, "\(NginxRTMPServer.unavailableReason ?? "")"),
    .enabled(if: NetworkTrace.isAvailable, "the hooks interpose libc only on Linux, without sanitizers")
)
struct RTMPCauseTests {
    init() { FFmpegLog.level = .quiet }

    @Test func aLiveJoinOnNginxRTMPNamesTheExchangeAndTheKeyframeWait() async throws {
        let server = try NginxRTMPServer(streamName: "causes")
        defer { server.stop() }
        for preset in [Preset.ffmpeg, .instant] {
            let stream = try await StreamOpener(preset: preset).open(server.url)
            // The media timeline of what the open read: the first packet's and the first keyframe's dts. nginx
            // relays in real time from the join, so the keyframe arrives (keyframe dts − first dts) later.
            var dts: (first: Double?, keyframe: Double?) = (nil, nil)
            while dts.keyframe == nil, let packet = try stream.readPacket() {
                guard let time = packet.dtsSeconds else { continue }
                dts.first = dts.first ?? time
                if packet.mediaKind == .video, packet.isKeyframe { dts.keyframe = time }
            }
            stream.close()
            let opened = stream.report
            try OriginTests.Causes.expectTiling(opened)
            let causes = try #require(opened.causes)
            let rtmp = try #require(opened.hops.first?.rtmp)
            #expect(rtmp.isComplete)
            #expect(rtmp.phases.map(\.name) == ["handshake", "connect", "createStream", "play"])
            #expect(causes.keyframeArrival == .network)
            // The exchange is the handshake and the command phases, stalls included: from the connection (C0+C1
            // goes at once) to play's answer.
            let phases = rtmp.phases.reduce(0) { $0 + (($1.endMs ?? $1.startMs) - $1.startMs) }
            #expect(causes[.protocolExchange] >= phases - 1)
            #expect(causes[.protocolExchange] <= (rtmp.phases.last?.endMs ?? 0) - (rtmp.phases.first?.startMs ?? 0) + 1)
            #expect(!causes.spans.contains { $0.cause == .serverResponse && $0.endMs <= rtmp.phases[0].endMs ?? 0 })
            let expectedMs = try #require(dts.keyframe) * 1000 - (try #require(dts.first)) * 1000
            let stages =
                causes.spans.first { $0.cause == .keyframeWait }?.stages.map(\.rawValue).joined(separator: "+") ?? "-"
            report(
                "nginx-rtmp, \(preset.rawValue): keyframe wait \(String(format: "%.1f", causes[.keyframeWait])) ms (dts say \(String(format: "%.1f", expectedMs)) ms; in \(stages)); "
                    + OriginTests.Causes.line(opened) + "; phases: "
                    + rtmp.phases.map {
                        String(
                            format: "%@ %.1f ms (stalls %.1f)",
                            $0.name,
                            ($0.endMs ?? $0.startMs) - $0.startMs,
                            $0.stallMs
                        )
                    }.joined(separator: ", ")
            )
            // The relay's pacing and the first message (metadata, sent at play) give a frame or two of slack.
            #expect(abs(causes[.keyframeWait] - expectedMs) <= 100)
        }
    }

    /// The `tcp_nodelay` knob reaches RTMP's own option (an integer there, so it goes to FFmpeg as 1): the open
    /// succeeds, and the client's Nagle stall in `createStream` (its command written in pieces) goes away.
    /// `instant` sets it; the comparison turns it off.
    @Test func tcpNoDelayReachesRTMPAndTakesTheClientsStallAway() async throws {
        let server = try NginxRTMPServer(streamName: "nodelay")
        defer { server.stop() }
        let knobs = Preset.instant.knobs
        #expect(knobs.formatOptions.contains { $0.key == "tcp_nodelay" && $0.value == "1" })
        var without = knobs
        try without.set("tcp_nodelay", "false")
        #expect(!without.formatOptions.contains { $0.key == "tcp_nodelay" })
        let stock = try await StreamOpener(knobs: without, presetName: "instant+").open(server.url)
        stock.close()
        let tuned = try await StreamOpener(knobs: knobs, presetName: "instant").open(server.url)
        tuned.close()
        func createStream(_ report: FirstFrameReport) throws -> FirstFrameReport.RTMPTimeline.Phase {
            try #require(report.hops.first?.rtmp?.phases.first { $0.name == "createStream" })
        }
        let before = try createStream(stock.report)
        let after = try createStream(tuned.report)
        report(
            String(
                format:
                    "nginx-rtmp createStream: %.1f ms (stalls %.1f) stock, %.1f ms (stalls %.1f) with tcp_nodelay; exchange %.1f → %.1f ms",
                (before.endMs ?? 0) - before.startMs,
                before.stallMs,
                (after.endMs ?? 0) - after.startMs,
                after.stallMs,
                stock.report.causes?[.protocolExchange] ?? -1,
                tuned.report.causes?[.protocolExchange] ?? -1
            )
        )
        #expect(after.stallMs <= before.stallMs)
        // Without it, FFmpeg's createStream (written in pieces) waits for nginx's delayed ACK; with it, never.
        #expect(before.stalls.contains { $0.after == "after sending createStream" && $0.durationMs >= 30 })
        #expect(after.stalls.allSatisfy { $0.durationMs < 30 })
    }
}
