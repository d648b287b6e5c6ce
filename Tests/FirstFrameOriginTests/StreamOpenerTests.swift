import CFFmpeg
import FirstFrame
import FirstFrameOrigin
import Foundation
import Testing

extension OriginTests {
    /// The opener against the live origin: stages that tile, knobs that work, packets handed on, typed failures.
    @Suite struct StreamOpening {
        init() { FFmpegLog.level = .quiet }

        /// Stages are contiguous from 0 to the first picture, in the model's order.
        private func expectTiling(_ report: FirstFrameReport, sourceLocation: SourceLocation = #_sourceLocation) {
            let stages = report.stages
            #expect(stages.first?.startMs == 0, sourceLocation: sourceLocation)
            for (previous, next) in zip(stages, stages.dropFirst()) {
                #expect(previous.endMs == next.startMs, "gap or overlap between \(previous.name) and \(next.name)", sourceLocation: sourceLocation)
                #expect(previous.name <= next.name || next.name.isNetwork, sourceLocation: sourceLocation)
            }
            if let first = report.summary.firstVideoFrameMs {
                #expect(stages.last?.endMs == first, sourceLocation: sourceLocation)
                let total = Stage.allCases.reduce(0) { $0 + report.summary[$1] }
                #expect(abs(total - first) < 0.001, sourceLocation: sourceLocation)
            }
        }

        @Test func instantOpensTheGopChannelAndTilesItsStages() async throws {
            try await withOrigin { origin in
                let opener = StreamOpener(preset: .instant)
                let stream = try await opener.open(origin.url(.gop))
                let opened = stream.report
                #expect(opened.outcome == .ok && opened.error == nil)
                expectTiling(opened)
                #expect(opened.stages.map(\.name) == [.dns, .tcpConnect, .httpResponse, .formatProbe, .streamInfo, .buffering, .decode])
                #expect(opened.hops.count == 1 && opened.hops.first?.status == 200)
                #expect(opened.streams.map(\.type) == [.video, .audio] || opened.streams.map(\.type) == [.audio, .video])
                let video = try #require(opened.streams.first { $0.type == .video })
                #expect(video.codec == "h264" && video.width == 640 && video.height == 360)
                #expect(opened.streams.first { $0.type == .audio }?.sampleRate == 44100)
                let keyframe = try #require(opened.milestones.firstKeyframeMs)
                let picture = try #require(opened.milestones.firstVideoFrameMs)
                #expect(keyframe <= picture)
                #expect(stream.firstPicture.width == 640)
                report("instant, gop: first picture \(picture) ms (keyframe \(keyframe) ms); " + opened.stages.map { "\($0.name.rawValue) \(String(format: "%.1f", $0.durationMs))" }.joined(separator: ", "))
            }
        }
    }
}
