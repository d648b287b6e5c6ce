import FirstFrame
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

/// Causes tile the open like stages do, and name the same situation the same way: a live join's wait for the
/// edge's next keyframe is `keyframeWait` whichever FFmpeg call blocked, and equals the origin's own account of
/// when it sent that keyframe.
extension OriginTests {
    @Suite struct Causes {
        init() { FFmpegLog.level = .quiet }

        /// Spans contiguous from 0 to the first picture, totals that add up to it.
        static func expectTiling(_ report: FirstFrameReport, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let causes = try #require(report.causes, sourceLocation: sourceLocation)
            #expect(causes.spans.first?.startMs == 0, sourceLocation: sourceLocation)
            for (previous, next) in zip(causes.spans, causes.spans.dropFirst()) {
                #expect(
                    previous.endMs == next.startMs,
                    "gap or overlap between \(previous.cause) and \(next.cause)",
                    sourceLocation: sourceLocation
                )
                #expect(previous.cause != next.cause || previous.hop != next.hop, sourceLocation: sourceLocation)
            }
            if let picture = report.summary.firstVideoFrameMs {
                #expect(causes.spans.last?.endMs == picture, sourceLocation: sourceLocation)
                let total = Cause.allCases.reduce(0) { $0 + causes[$1] }
                #expect(abs(total - picture) < 0.001, sourceLocation: sourceLocation)
            }
        }

        static func line(_ report: FirstFrameReport) -> String {
            guard let causes = report.causes else { return "no causes" }
            return Cause.allCases.filter { causes[$0] > 0 }.map { String(format: "%@ %.1f", $0.rawValue, causes[$0]) }
                .joined(separator: ", ")
        }

        /// The origin's account of the last viewer's join: milliseconds from its first body write to its write of
        /// the first keyframe.
        static func originKeyframeWaitMs(_ origin: LiveOrigin) throws -> Double {
            let viewer = try #require(origin.stats().viewers.max { $0.id < $1.id })
            let written = try #require(viewer.firstKeyframeWriteNs)
            let bodyStart = try #require(viewer.firstBodyWriteNs)
            return Double(written - bodyStart) / 1e6
        }

        /// The accuracy test: on a live join (no GOP cache) the keyframe wait is the time between the origin's
        /// first body write and its write of the keyframe, within ±3 ms, for presets whose waits land in
        /// different stages, at whatever GOP phase each open happens to join.
        @Test(arguments: [Preset.instant, .ffmpeg, .fieldReport])
        func keyframeWaitIsTheOriginsOwnNextKeyframeTime(preset: Preset) async throws {
            var clientTimes: [Double] = []
            try await withOrigin { origin in
                // The process's first open pays one-off costs (codec tables, lazy binding) that are client time but
                // not the preset's: one open on the GOP channel first.
                _ = await StreamOpener(preset: preset).report(opening: origin.url(host: "127.0.0.1", .gop))
                for _ in 0..<3 {
                    let stream = try await StreamOpener(preset: preset).open(origin.url(host: "127.0.0.1", .live))
                    defer { stream.close() }
                    let opened = stream.report
                    try Self.expectTiling(opened)
                    let causes = try #require(opened.causes)
                    #expect(causes.keyframeArrival == .network)
                    let originWaitMs = try Self.originKeyframeWaitMs(origin)
                    let where_ =
                        causes.spans.first { $0.cause == .keyframeWait }?.stages.map(\.rawValue).joined(separator: "+")
                        ?? "-"
                    report(
                        "\(preset.rawValue) live join: keyframe wait \(String(format: "%.1f", causes[.keyframeWait])) ms (origin: \(String(format: "%.1f", originWaitMs)) ms, in \(where_)); "
                            + Self.line(opened)
                    )
                    #expect(
                        abs(causes[.keyframeWait] - originWaitMs) <= 3,
                        "keyframe wait \(causes[.keyframeWait]) ms, origin says \(originWaitMs) ms"
                    )
                    if originWaitMs > AdviceRules.thresholdsMs[.keyframeWait]! + 5 {
                        #expect(opened.advice.contains { $0.remedy == .gopCache })
                    }
                    let picture = try #require(opened.summary.firstVideoFrameMs)
                    let client = try #require(causes.clientAttributableMs)
                    #expect(client <= picture - causes[.keyframeWait] + 0.001)
                    clientTimes.append(client)
                }
            }
            // What a sweep ranks by does not depend on the GOP phase each open joined at (the first picture does,
            // by up to a GOP): the same preset's client-attributable times stay within a few frames.
            let spread = (clientTimes.max() ?? 0) - (clientTimes.min() ?? 0)
            report(
                "\(preset.rawValue): client-attributable "
                    + clientTimes.map { String(format: "%.1f", $0) }.joined(separator: ", ") + " ms"
            )
            #expect(spread < 100, "client-attributable times \(clientTimes)")
        }

        /// With a GOP cache the keyframe comes in the first burst: no keyframe wait, no GOP-cache advice. (The
        /// first join of a channel that has not reached its first keyframe does wait, and says so: it opens once
        /// before measuring.)
        @Test func aGOPCacheLeavesNoKeyframeWait() async throws {
            try await withOrigin { origin in
                await StreamOpener(preset: .instant).report(opening: origin.url(host: "127.0.0.1", .gop))
                let stream = try await StreamOpener(preset: .instant).open(origin.url(host: "127.0.0.1", .gop))
                defer { stream.close() }
                try Self.expectTiling(stream.report)
                let causes = try #require(stream.report.causes)
                #expect(try Self.originKeyframeWaitMs(origin) < 1)
                #expect(causes[.keyframeWait] < 3)
                #expect(!stream.report.advice.contains { $0.remedy == .gopCache })
                #expect(causes.clientAttributableMs.map { $0 >= 0 } == true)
                report("instant gop join: " + Self.line(stream.report))
            }
        }

        /// Stock FFmpeg on a GOP-cached edge: the keyframe is there at once, the frame-rate probe reads on for
        /// 40 frames: client wait, in streamInfo, with the knob that removes it.
        @Test func stockFrameRateProbingIsClientWaitWithItsKnob() async throws {
            try await withOrigin { origin in
                let stream = try await StreamOpener(preset: .ffmpeg).open(origin.url(host: "127.0.0.1", .gop))
                defer { stream.close() }
                let causes = try #require(stream.report.causes)
                try Self.expectTiling(stream.report)
                #expect(causes[.clientWait] > 500)
                #expect(causes.spans.contains { $0.cause == .clientWait && $0.stages.contains(.streamInfo) })
                let advice = try #require(stream.report.advice.first { $0.cause == .clientWait })
                #expect(advice.knobs.contains("fpsprobesize=0"))
                #expect(advice.sweep?.contains("--set fpsprobesize=-1,0") == true)
                report("ffmpeg gop join: " + Self.line(stream.report) + "; advice: " + advice.message)
            }
        }
    }
}
