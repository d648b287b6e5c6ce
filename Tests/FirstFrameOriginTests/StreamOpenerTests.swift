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

        /// Live join mid-GOP: stock FFmpeg waits for 40 frames to estimate the frame rate after the keyframe;
        /// instant goes on the keyframe. Both are measured from the same random phase of the same channel.
        @Test func instantSkipsTheFrameRateWaitThatStockFFmpegMakes() async throws {
            try await withOrigin { origin in
                let stock = try await StreamOpener(preset: .ffmpeg).open(origin.url(.live)).report
                let instant = try await StreamOpener(preset: .instant).open(origin.url(.live)).report
                expectTiling(stock)
                expectTiling(instant)
                let stockInfo = stock.summary.streamInfoMs + stock.summary.bufferingMs
                let instantAfterKeyframe = try #require(instant.summary.firstVideoFrameMs) - (try #require(instant.milestones.firstKeyframeMs))
                let stockAfterKeyframe = try #require(stock.summary.firstVideoFrameMs) - (try #require(stock.milestones.firstKeyframeMs))
                // The keyframe milestone is when its bytes arrived (from the trace), so both wait from the same point.
                #expect(stockAfterKeyframe > 1000)
                report("live: stock first picture \(stock.summary.firstVideoFrameMs!) ms (stream info \(stock.summary.streamInfoMs) ms), instant \(instant.summary.firstVideoFrameMs!) ms; after the keyframe: stock \(stockAfterKeyframe) ms, instant \(instantAfterKeyframe) ms")
                // 40 frames at 25 fps is 1.6 s of media that stock FFmpeg waits for in real time.
                #expect(stockInfo > 1000)
                #expect(instant.summary.streamInfoMs < 200)
                #expect(instantAfterKeyframe < 100)
            }
        }

        /// Nothing read while probing and buffering is lost: the handed-on packets continue each stream's
        /// timeline without a gap, starting with what the open read.
        @Test func packetsReadDuringTheOpenAreHandedOnInOrder() async throws {
            try await withOrigin { origin in
                let stream = try await StreamOpener(preset: .fieldReport).open(origin.url(.gop))
                let queued = stream.queuedPacketCount
                #expect(queued >= 5)
                let packets = try await blocking { () -> [(stream: Int, dts: Int64, key: Bool)] in
                    var packets: [(Int, Int64, Bool)] = []
                    while packets.count < queued + 60, let packet = try stream.readPacket() {
                        packets.append((packet.streamIndex, packet.dts ?? -1, packet.isKeyframe))
                    }
                    return packets
                }
                let video = packets.filter { $0.stream == stream.videoStreamIndex }
                #expect(video.first?.key == true)
                let steps = zip(video, video.dropFirst()).map { $1.dts - $0.dts }
                #expect(steps.allSatisfy { $0 == 40 }, "25 fps in FLV's milliseconds, no frame missing: \(Set(steps))")
                #expect(video.count > 20)
            }
        }

        @Test func invalidKnobIsRejectedNamingIt() {
            var knobs = TuningKnobs()
            knobs.decoderThreads = -3
            #expect {
                _ = try StreamOpener(knobs: knobs)
            } throws: { error in
                "\(error)".contains("decoderThreads")
            }
        }
    }
}
