import FirstFrame
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

extension OriginTests {
    /// Recordings checked by content: every packet in the file is one the server sent, each once, in order, and
    /// what is missing lies in a gap the session log names (``ContentCheck``).
    @Suite struct RecordingContent {
        init() { FFmpegLog.level = .quiet }

        private func directory() throws -> URL {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("content-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return directory
        }

        /// The origin drops the connection after a few seconds; the recorder reconnects at once, records 1.5 s more
        /// (before the second connection's drop, on an unloaded machine) and stops. The file is checked against the
        /// origin's sent log of the channel (all its connections). `gop`: the new connection re-sends the cached GOP,
        /// which must not be written twice. `live` without waiting for a keyframe (`waitkey=0`), every response
        /// 300 ms late: the drop falls a second into a GOP (timed from the channel's keyframe phase), the new
        /// connection starts 300 ms later mid-GOP, and the recorder drops its video until the next keyframe (without
        /// the delay a loopback reconnect is seamless: the next frame follows the last written): sent packets are
        /// missing from the file, and they must lie inside the logged gap, whose bounds must be theirs. (A `live` join
        /// that waits for a keyframe sends nothing before it: nothing sent would be missing.)
        @Test(arguments: zip([JoinMode.gop, .live], [true, false]))
        func aRecordingAcrossADropHoldsWhatTheOriginSent(_ mode: JoinMode, waitForKeyframe: Bool) async throws {
            let directory = try directory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try await withOrigin(OriginConfiguration(logsSentTags: true)) { origin in
                let path = directory.appendingPathComponent("room.flv").path
                // GOPs are 2 s: the drop comes 1 s after the keyframe that follows the next one (the drop counts from
                // the response head, after the delay).
                let delay = mode == .gop ? 0 : 300
                let dropAfter = mode == .gop ? 2500 : Int(origin.millisecondsToNextKeyframe) + 3000 - delay
                let behaviour = Behaviour(responseDelayMilliseconds: delay, waitForKeyframe: waitForKeyframe, closeAfterMilliseconds: dropAfter)
                let recorder = try Recorder(
                    url: origin.url(mode, behaviour: behaviour), path: path,
                    reconnect: ReconnectPolicy(initialDelay: 0.05, maximumDelay: 0.2, jitter: 0))
                let running = Task { await recorder.run() }
                let reconnected = try await eventually(timeout: 15) { recorder.progress.reconnects >= 1 }
                let resumedAt = recorder.progress.mediaSeconds
                let recorded = try await eventually(timeout: 10) { recorder.progress.mediaSeconds >= resumedAt + 1.5 }
                recorder.stop()
                let summary = await running.value
                #expect(reconnected && recorded, "progress: \(recorder.progress)")
                #expect(summary.gaps.count >= 1)

                let truth = SentTag.truth(try #require(origin.sentTags()))
                let check = try ContentCheck.run(paths: summary.files, truth: truth, sessionLog: recorder.sessionLogPath)
                report("recording (\(mode.rawValue) join, waitkey=\(waitForKeyframe ? 1 : 0), \(summary.gaps.count) drop(s)) by content: "
                    + check.figures + " \(check.gaps)")
                #expect(check.passed, "\(check.problems)")
                #expect(check.matched > 200)
                #expect(check.gapsWithOtherBounds == 0, "\(check.gaps)")
                if !waitForKeyframe {
                    #expect(check.inGaps > 0, "video sent before the rejoin's first keyframe is not written")
                    #expect(check.gaps.contains { $0.missing > 0 && $0.boundsMatch == true }, "\(check.gaps)")
                }
            }
        }

        /// FFmpeg's own HTTP server (`ffmpeg -listen 1`) sends a file made by the `ffmpeg` CLI (x264 defaults, B-frames
        /// on, AAC); the recording holds the file's packets, checked against the file itself.
        @Test func aRecordingOfFFmpegsOwnServerHoldsTheSourceFile() async throws {
            let directory = try directory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let source = directory.appendingPathComponent("src.flv").path
            try MediaFixtures.run("/usr/bin/ffmpeg", [
                "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                "-g", "50", "-c:a", "aac", "-t", "12", source])
            let port = try LoopbackSocket.freePort()
            // At 3× real time: a live sender all the same (paced by its clock), in a third of the file's 12 s.
            let server = try SpawnedProcess("/usr/bin/ffmpeg", [
                "-nostdin", "-v", "error", "-readrate", "3", "-i", source, "-c", "copy", "-f", "flv", "-listen", "1",
                "http://127.0.0.1:\(port)/x.flv"], output: directory.appendingPathComponent("server.log"))
            defer { server.kill() }
            // Listening shows in /proc before anyone connects (a test connection would take the one accept).
            #expect(try await eventually(timeout: 10) { LoopbackSocket.isListening(port: port) }, "\(server.printed)")

            let path = directory.appendingPathComponent("recording.flv").path
            var policy = ReconnectPolicy(initialDelay: 0.05, maximumDelay: 0.2, jitter: 0)
            policy.maxAttempts = 1
            let recorder = try Recorder(url: "http://127.0.0.1:\(port)/x.flv", path: path, reconnect: policy, stopAtEndOfInput: true)
            let summary = await recorder.run()
            #expect(summary.outcome == .inputEnded, "\(summary.message ?? "")")

            let truth = try PacketDigest.read(url: source)
            let check = try ContentCheck.run(paths: summary.files, truth: truth, sessionLog: recorder.sessionLogPath)
            report("recording of ffmpeg -listen (x264 B-frames, AAC) by content: \(check.figures)")
            #expect(check.passed, "\(check.problems)")
            // Everything from the first keyframe on: at most the audio before it is outside the recording.
            #expect(check.afterEnd == 0 && check.inGaps == 0)
            #expect(check.beforeStart <= 2, "\(check.figures)")
            #expect(check.matched == truth.count - check.beforeStart)
        }
    }
}
