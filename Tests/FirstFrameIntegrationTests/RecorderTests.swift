import FirstFrame
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

extension OriginTests {
    /// The recorder against the origin's drops: files that ffprobe and a full decode accept, timestamps that keep
    /// increasing across reconnects, no packet written twice, every gap and attempt in the session log.
    @Suite struct Recording {
        init() { FFmpegLog.level = .quiet }

        private func directory() throws -> URL {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("record-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return directory
        }

        private var quickReconnect: ReconnectPolicy {
            get throws { try ReconnectPolicy(initialDelay: 0.05, maximumDelay: 0.2, jitter: 0) }
        }

        /// Records until `mediaSeconds` of media are written, then stops it.
        private func record(_ recorder: Recorder, mediaSeconds: Double) async throws -> RecordingSummary {
            let running = Task { await recorder.run() }
            let reached = try await eventually(timeout: mediaSeconds * 3 + 10) {
                recorder.progress.mediaSeconds >= mediaSeconds
            }
            #expect(reached, "progress: \(recorder.progress)")
            recorder.stop()
            return await running.value
        }

        private func logLines(_ path: String) throws -> [[String: Any]] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
                try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
        }

        /// A `gop` edge that drops every connection after 2.5 s: each reconnect re-sends the cached GOP, which the
        /// recorder recognises and drops; the file's timeline has holes only where the log says.
        @Test(arguments: ["ts", "mp4"])
        func reconnectsAcrossDropsWithoutDuplicates(_ container: String) async throws {
            let directory = try directory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try await withOrigin { origin in
                let url = origin.url(.gop, behaviour: Behaviour(closeAfterMilliseconds: 2500))
                let path = directory.appendingPathComponent("room.\(container)").path
                let recorder = try Recorder(url: url, path: path, configuration: .init(reconnect: quickReconnect))
                let summary = try await record(recorder, mediaSeconds: 8)
                #expect(summary.outcome == .stopped)
                #expect(summary.successfulOpens >= 3)
                #expect(summary.gaps.count == summary.successfulOpens - 1)
                #expect(
                    summary.gaps.allSatisfy { $0.end?.reason == .connectionDropped || $0.end?.reason == .endOfInput }
                )
                #expect(summary.duplicatesDropped > 0, "a gop edge re-sends what was written")
                #expect(summary.files == [path])

                try Remuxing.judge(path, width: 640, height: 360, label: "recording")
                // Video steps are one frame except across a logged gap.
                let packets = try MediaProbe.packets(path)
                let video = packets.filter { $0.codec_type == "video" }.compactMap(\.dts)
                for (previous, next) in zip(video, video.dropFirst()) where next - previous > 0.041 {
                    let logged = summary.gaps.contains { gap in
                        abs(gap.fromSeconds - previous) < 0.05 && gap.toSeconds.map { abs($0 - next) < 0.05 } == true
                    }
                    #expect(logged, "a hole from \(previous) to \(next) s that the session log does not name")
                }

                let lines = try logLines(recorder.sessionLogPath)
                #expect(lines.filter { $0["event"] as? String == "attempt" }.count == summary.attempts)
                #expect(lines.filter { $0["event"] as? String == "gap" }.count == summary.gaps.count)
                #expect(lines.last?["event"] as? String == "summary")
                let reports = lines.compactMap { $0["report"] as? [String: Any] }
                #expect(reports.allSatisfy { $0["outcome"] as? String == "ok" })
                report(
                    "recorder (\(container)): \(summary.successfulOpens) connections, \(summary.gaps.count) gaps, "
                        + "\(summary.duplicatesDropped) re-sent packets dropped, \(summary.packetsWritten) packets, "
                        + String(format: "%.1f s of media", summary.mediaSeconds)
                )
            }
        }

        /// An edge that stalls: the recorder reconnects one read timeout after the last packet it wrote (a stall that
        /// cuts a tag included), and each gap's wall time counts the stall.
        @Test func aStallIsPartOfTheGapAndEndsAfterOneReadTimeout() async throws {
            let directory = try directory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try await withOrigin { origin in
                var knobs = Preset.instant.knobs
                knobs.readTimeoutMs = 1000
                // 200 001 bytes: past the cached GOP, inside a tag.
                let url = origin.url(.gop, behaviour: Behaviour(stallAfterBytes: 200_001))
                let recorder = try Recorder(
                    url: url,
                    path: directory.appendingPathComponent("room.flv").path,
                    configuration: .init(knobs: knobs, reconnect: quickReconnect, readBatchSeconds: 0)
                )
                let running = Task { await recorder.run() }
                #expect(try await eventually(timeout: 30) { recorder.progress.reconnects >= 2 })
                recorder.stop()
                let summary = await running.value
                let closed = summary.gaps.filter { $0.toSeconds != nil }
                #expect(!closed.isEmpty)
                for gap in closed {
                    #expect(gap.end?.reason == .stalled)
                    let wall = gap.wallSeconds ?? 0
                    #expect(
                        wall >= 0.95 && wall < 2.5,
                        "the gap lasted \(wall) s from the last packet, for a 1 s read timeout"
                    )
                }
            }
        }

        /// Segments by duration: each file starts on a keyframe and plays on its own.
        @Test func segmentsStartOnKeyframes() async throws {
            let directory = try directory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try await withOrigin { origin in
                let path = directory.appendingPathComponent("room.mkv").path
                let recorder = try Recorder(
                    url: origin.url(.burst),
                    path: path,
                    configuration: .init(segmentSeconds: 2, reconnect: quickReconnect)
                )
                let summary = try await record(recorder, mediaSeconds: 7)
                #expect(summary.files.count >= 3)
                #expect(summary.files.first?.hasSuffix("room-00001.mkv") == true)
                for file in summary.files { try Remuxing.judge(file, width: 640, height: 360, label: "segment") }
            }
        }

        /// Opens that keep failing stop the recorder after `maxAttempts`, each attempt's report in the log.
        @Test func failedOpensStopAfterMaxAttempts() async throws {
            let directory = try directory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let closed = try ClosedPort()
            let path = directory.appendingPathComponent("room.ts").path
            var policy = try quickReconnect
            policy.maxAttempts = 3
            let recorder = try Recorder(
                url: "http://127.0.0.1:\(closed.port)/live/room.flv",
                path: path,
                configuration: .init(reconnect: policy)
            )
            let summary = await recorder.run()
            #expect(summary.outcome == .attemptsExhausted)
            #expect(summary.attempts == 3 && summary.successfulOpens == 0)
            #expect(summary.message?.contains("tcpConnect") == true, "\(summary.message ?? "")")
            let lines = try logLines(recorder.sessionLogPath)
            #expect(lines.filter { $0["event"] as? String == "attempt" }.count == 3)
            #expect(!FileManager.default.fileExists(atPath: path), "no file without media")
        }

        /// A stop while an open waits for a slow server returns at once: the open is cancelled, no file is made,
        /// and the outcome is a clean stop.
        @Test func stopDuringAnOpenEndsAtOnce() async throws {
            let directory = try directory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try await withOrigin { origin in
                let path = directory.appendingPathComponent("room.ts").path
                let url = origin.url(.gop, behaviour: Behaviour(responseDelayMilliseconds: 10_000))
                let recorder = try Recorder(url: url, path: path, configuration: .init(reconnect: quickReconnect))
                let running = Task { await recorder.run() }
                #expect(
                    try await eventually(timeout: 5) {
                        recorder.progress.state == .opening && recorder.progress.attempts == 1
                    }
                )
                let stopping = MonotonicClock.nanoseconds()
                recorder.stop()
                let summary = await running.value
                let stoppedMs = Double(MonotonicClock.nanoseconds() - stopping) / 1e6
                #expect(summary.outcome == .stopped)
                #expect(stoppedMs < 2000, "the 10 s response delay was not waited out")
                #expect(summary.files.isEmpty && !FileManager.default.fileExists(atPath: path))
                let lines = try logLines(recorder.sessionLogPath)
                #expect(lines.last?["event"] as? String == "summary")
            }
        }

        /// A channel that ends cleanly ends the recording with `stopAtEndOfInput`, the file whole.
        @Test func aChannelThatEndsEndsTheRecording() async throws {
            let directory = try directory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try await withOrigin { origin in
                let path = directory.appendingPathComponent("room.mkv").path
                // Chunked: FFmpeg 5.1 reports the end of a close-delimited body of unknown length as EIO ("Stream
                // ends prematurely"), the same as a drop; only a final chunk is a clean end it can tell.
                let url = origin.url(.gop, behaviour: Behaviour(chunked: true, endAfterMilliseconds: 3000))
                let recorder = try Recorder(
                    url: url,
                    path: path,
                    configuration: .init(reconnect: quickReconnect, stopAtEndOfInput: true)
                )
                let summary = await recorder.run()
                #expect(summary.outcome == .inputEnded)
                #expect(summary.successfulOpens == 1)
                // The end is logged as a gap that nothing closed (toSeconds nil): the recording ended there.
                #expect(
                    summary.gaps.count == 1 && summary.gaps.first?.toSeconds == nil
                        && summary.gaps.first?.end?.reason == .endOfInput
                )
                #expect(summary.mediaSeconds > 1)
                try Remuxing.judge(path, width: 640, height: 360, label: "ended channel")
            }
        }

        @Test func backoffGrowsToItsCapWithJitterInsideItsBounds() throws {
            let policy = try ReconnectPolicy(initialDelay: 0.5, multiplier: 2, maximumDelay: 4, jitter: 0.25)
            #expect(policy.delay(afterFailures: 0) == 0)
            #expect(policy.delay(afterFailures: 1, random: 0) == 0.5)
            #expect(policy.delay(afterFailures: 3, random: 0) == 2)
            #expect(policy.delay(afterFailures: 10, random: 0) == 4)
            #expect(policy.delay(afterFailures: 10, random: 1) == 5)
            #expect(policy.delay(afterFailures: 10, random: -1) == 3)
            for _ in 0..<100 { #expect((0.375...0.625).contains(policy.delay(afterFailures: 1))) }
        }
    }
}
