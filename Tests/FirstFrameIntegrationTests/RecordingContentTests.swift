import FirstFrame
import FirstFrameFFmpeg
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
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "content-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return directory
        }

        /// Records `url` (every connection dropped `closeAfterMilliseconds` after its response head) across its first
        /// drop: until the recorder has reconnected and written 1.5 s more (before the second connection's drop, on
        /// an unloaded machine), then stops it and checks the file against the origin's sent log of the channel (all
        /// its connections).
        private func recordAcrossADrop(
            _ origin: LiveOrigin,
            _ mode: JoinMode,
            _ behaviour: Behaviour,
            label: String
        )
            async throws -> (RecordingSummary, ContentCheck)
        {
            let directory = try directory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let recorder = try Recorder(
                url: origin.url(mode, behaviour: behaviour),
                path: directory.appendingPathComponent("room.flv").path,
                configuration: .init(reconnect: try ReconnectPolicy(initialDelay: 0.05, maximumDelay: 0.2, jitter: 0))
            )
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
            report(
                "recording (\(label), \(summary.gaps.count) drop(s)) by content: \(check.figures); gaps: "
                    + check.gaps.map {
                        "\($0.fromSeconds)–\($0.toSeconds.map { "\($0)" } ?? "end") s, \($0.missing) missing"
                    }.joined(separator: "; ")
            )
            return (summary, check)
        }

        /// A `gop` edge drops the connection 2.5 s in (half a second into a GOP): the new connection re-sends the cached
        /// half second, which must not be written twice.
        @Test func aRecordingAcrossAGOPEdgesDropHoldsWhatItSent() async throws {
            try await withOrigin(OriginConfiguration(logsSentTags: true)) { origin in
                let (_, check) = try await recordAcrossADrop(
                    origin,
                    .gop,
                    Behaviour(closeAfterMilliseconds: 2500),
                    label: "gop join, drop 0.5 s into a GOP"
                )
                #expect(check.passed, "\(check.problems)")
                #expect(check.matched > 200)
                #expect(check.gapsWithOtherBounds == 0, "\(check.gaps)")
            }
        }

        /// The same edge drops the connection 200 ms before a keyframe (timed from the channel's keyframe phase; GOPs are
        /// 2 s): the reconnect gets the whole previous GOP again, 1.8 s of media the recorder has written already.
        /// Today the recorder's splicer takes a re-sent GOP that starts more than a second behind the last packet
        /// for a jump to a new clock and writes it a second time (the content check finds ~120 packets duplicated).
        @Test
        func aWholeReSentGOPIsNotWrittenTwice() async throws {
            try await withOrigin(OriginConfiguration(logsSentTags: true)) { origin in
                let dropAfter = Int(origin.millisecondsToNextKeyframe) + 2000 - 200
                let (_, check) = try await recordAcrossADrop(
                    origin,
                    .gop,
                    Behaviour(closeAfterMilliseconds: dropAfter),
                    label: "gop join, drop 0.2 s before a keyframe"
                )
                #expect(check.duplicated == 0, "\(check.problems)")
                #expect(check.passed, "\(check.problems)")
                #expect(check.matched > 200)
            }
        }

        /// A `live` edge that does not wait for a keyframe (`waitkey=0`), every response 300 ms late, drops the
        /// connection a second into a GOP (timed from the channel's keyframe phase): the new connection starts 300 ms
        /// later mid-GOP, and the recorder drops its video until the next keyframe (without the delay a loopback
        /// reconnect is seamless: the next frame follows the last one written). Sent packets are missing from the file,
        /// and they must lie inside the logged gap, whose bounds must be theirs. (A `live` join that waits for a
        /// keyframe sends nothing before it: nothing sent would be missing.)
        @Test func whatALiveRejoinLosesLiesInTheLoggedGap() async throws {
            try await withOrigin(OriginConfiguration(logsSentTags: true)) { origin in
                // The drop counts from the response head, after the delay.
                let delay = 300
                let dropAfter = Int(origin.millisecondsToNextKeyframe) + 3000 - delay
                let behaviour = Behaviour(
                    responseDelayMilliseconds: delay,
                    waitForKeyframe: false,
                    closeAfterMilliseconds: dropAfter
                )
                let (_, check) = try await recordAcrossADrop(
                    origin,
                    .live,
                    behaviour,
                    label: "live join, waitkey=0, 1 s into a GOP"
                )
                #expect(check.passed, "\(check.problems)")
                #expect(check.matched > 200)
                #expect(check.inGaps > 0, "video sent before the rejoin's first keyframe is not written")
                #expect(check.gaps.contains { $0.missing > 0 && $0.boundsMatch == true }, "\(check.gaps)")
                #expect(check.gapsWithOtherBounds == 0, "\(check.gaps)")
            }
        }

        /// FFmpeg's own HTTP server (`ffmpeg -listen 1`) sends a file made by the `ffmpeg` CLI (x264 defaults, B-frames
        /// on, AAC); the recording holds the file's packets, checked against the file itself.
        @Test func aRecordingOfFFmpegsOwnServerHoldsTheSourceFile() async throws {
            let directory = try directory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let source = directory.appendingPathComponent("src.flv").path
            try MediaFixtures.run(
                "/usr/bin/ffmpeg",
                [
                    "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-c:v", "libx264", "-pix_fmt",
                    "yuv420p",
                    "-g", "50", "-c:a", "aac", "-t", "12", source,
                ]
            )
            let port = try LoopbackSocket.freePort()
            // At 3× real time: a live sender all the same (paced by its clock), in a third of the file's 12 s.
            let server = try SpawnedProcess(
                "/usr/bin/ffmpeg",
                [
                    "-nostdin", "-v", "error", "-readrate", "3", "-i", source, "-c", "copy", "-f", "flv", "-listen",
                    "1",
                    "http://127.0.0.1:\(port)/x.flv",
                ],
                output: directory.appendingPathComponent("server.log")
            )
            defer { server.kill() }
            // Listening shows in /proc before anyone connects (a test connection would take the one accept).
            #expect(try await eventually(timeout: 10) { LoopbackSocket.isListening(port: port) }, "\(server.printed)")

            let path = directory.appendingPathComponent("recording.flv").path
            var policy = try ReconnectPolicy(initialDelay: 0.05, maximumDelay: 0.2, jitter: 0)
            policy.maxAttempts = 1
            let recorder = try Recorder(
                url: "http://127.0.0.1:\(port)/x.flv",
                path: path,
                configuration: .init(reconnect: policy, stopAtEndOfInput: true)
            )
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
