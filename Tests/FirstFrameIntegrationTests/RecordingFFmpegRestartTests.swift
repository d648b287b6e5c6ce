import FirstFrame
import FirstFrameFFmpeg
import FirstFrameTestSupport
import Foundation
import Testing

extension OriginTests {
    /// FFmpeg's own HTTP server (`ffmpeg -listen 1`, which serves one client and exits) sends a file made by the
    /// `ffmpeg` CLI (x264 defaults, B-frames, AAC) and is killed mid-stream; a new one serves the file again from
    /// before the drop, so the reconnect re-sends packets the recorder wrote, as a GOP cache would, on the same clock
    /// (`-copyts`) or on a new one starting at 0. The recording must hold the file's packets once each, in order.
    ///
    /// FFmpeg 5.1 seeks an FLV input (`-ss` before `-i`) to the keyframe whose pts is at or before the time, and stream
    /// copy sends everything from there: the re-send starts at a keyframe, and `-copyinkf` changes nothing. An output `-ss`
    /// (after `-i`) drops what comes before its time, and with `-copyinkf` the re-send starts with the inter frames
    /// before the next keyframe; it always restarts the output's timestamps (`-output_ts_offset` puts them back for
    /// the same clock).
    @Suite struct RecordingFFmpegRestart {
        init() { FFmpegLog.level = .quiet }

        struct Restart: Sendable, CustomTestStringConvertible {
            /// Where the second server's re-send starts; the first one is killed between the keyframes at 6 s and 8 s.
            enum From: Sendable {
                /// The keyframe at 6 s (an input seek to 6.5 s lands there: its pts, 6.08 s, is before): the GOP of the
                /// drop, as an edge's GOP cache re-sends it.
                case keyframe
                /// 5.5 s: the inter frames before the keyframe at 6 s, that keyframe, and on.
                case beforeKeyframe
                /// 6.5 s: inter frames only, up to the drop and past it (no keyframe sent again).
                case afterKeyframe

                /// Seconds of the source: the input seek (it lands on the keyframe before) and the output one.
                var seeks: (input: Double, output: Double?) {
                    switch self {
                    case .keyframe: (6.5, nil)
                    case .beforeKeyframe: (4, 5.5)
                    case .afterKeyframe: (6.2, 6.5)
                    }
                }
            }

            /// Whether the new server keeps the file's timestamps (`-copyts`): the same clock as the first.
            var sameClock: Bool
            var from: From

            var testDescription: String {
                let clock = sameClock ? "-copyts (same clock)" : "new clock from 0"
                return switch from {
                case .keyframe: "\(clock), re-send from the keyframe at 6 s"
                case .beforeKeyframe: "\(clock), re-send from 5.5 s (-copyinkf: inter frames, then the keyframe at 6 s)"
                case .afterKeyframe: "\(clock), re-send from 6.5 s (-copyinkf: inter frames only)"
                }
            }

            /// The first server is killed once the recorder has written this much (keyframes every 2 s): by the time
            /// the recorder sees the end it has read up to 7.2–7.4 s.
            static let killAfterSeconds = 6.8

            /// The second server's arguments before the output's `-c copy`.
            var resendArguments: [String] {
                let (input, output) = from.seeks
                let read = ["-ss", "\(input)", "-readrate", "4", "-i", "SOURCE"]
                guard let output else { return (sameClock ? ["-copyts"] : []) + read }
                // An output seek always restarts the timestamps; -output_ts_offset puts the file's back.
                return sameClock
                    ? ["-copyts"] + read + ["-ss", "\(output)", "-output_ts_offset", "\(output)"]
                    : read + ["-ss", String(format: "%.2f", output - input)]
            }

            /// Whether the recorder writes every packet of the file (nothing lost at the seam). Not so today for a
            /// re-send of inter frames only on a new clock: see ``interFramesReSentOnANewClockPlaceTheConnection()``.

            static let all = [From.keyframe, .beforeKeyframe, .afterKeyframe].flatMap { from in
                [true, false].map { Restart(sameClock: $0, from: from) }
            }

            /// All six when `FIRSTFRAME_LONG_TESTS=1`; by default the four that take different paths through the
            /// splicer (the same clock's mid-GOP re-sends are recognised as its keyframe re-send is: by content at
            /// their own time).
            static var selected: [Restart] {
                ProcessInfo.processInfo.environment["FIRSTFRAME_LONG_TESTS"] == "1"
                    ? all : all.filter { !$0.sameClock || $0.from == .keyframe }
            }
        }

        /// 20 s of x264 (defaults: B-frames; a keyframe every 2 s) and AAC in FLV, made once per process.
        private static let source: Result<URL, MediaFixtures.Failure> = Result {
            () throws(MediaFixtures.Failure) -> URL in
            let files = try MediaFixtures.files()
            let source = files.directory.appendingPathComponent("restart-src.flv")
            try MediaFixtures.run(
                "/usr/bin/ffmpeg",
                [
                    "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-c:v", "libx264", "-pix_fmt",
                    "yuv420p",
                    "-g", "50", "-c:a", "aac", "-t", "20", source.path,
                ]
            )
            return source
        }

        private static func serve(_ arguments: [String], source: URL, port: Int, log: URL) throws -> SpawnedProcess {
            try SpawnedProcess(
                "/usr/bin/ffmpeg",
                ["-nostdin", "-v", "error"] + arguments.map { $0 == "SOURCE" ? source.path : $0 }
                    + ["-c", "copy", "-copyinkf", "-f", "flv", "-listen", "1", "http://127.0.0.1:\(port)/x.flv"],
                output: log
            )
        }

        /// Every packet sent is in the file once, in order, missing packets only inside logged gaps with their bounds;
        /// and, since every re-send covers the drop, nothing is missing at all.
        @Test(arguments: Restart.selected)
        func aRecordingAcrossARestartedServerHoldsTheSourceFile(_ restart: Restart) async throws {
            let (check, truth) = try await record(restart)
            Self.expectLossless(check, truth: truth)
        }

        private static func expectLossless(_ check: ContentCheck, truth: [PacketDigest]) {
            // The re-send covers the drop: every packet of the file from the first keyframe on is in the recording.
            #expect(check.inGaps == 0 && check.afterEnd == 0, "\(check.figures); \(check.gaps)")
            #expect(check.matched == truth.count - check.beforeStart, "\(check.figures)")
        }

        private func record(_ restart: Restart) async throws -> (ContentCheck, [PacketDigest]) {
            let source = try Self.source.get()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "restart-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let port = try LoopbackSocket.freePort()
            // At 4× real time: a live sender all the same (paced by its clock).
            let first = try Self.serve(
                ["-readrate", "4", "-i", "SOURCE"],
                source: source,
                port: port,
                log: directory.appendingPathComponent("server1.log")
            )
            defer { first.kill() }
            // Listening shows in /proc before anyone connects (a test connection would take the one accept).
            #expect(try await eventually(timeout: 10) { LoopbackSocket.isListening(port: port) }, "\(first.printed)")

            let recorder = try Recorder(
                url: "http://127.0.0.1:\(port)/x.flv",
                path: directory.appendingPathComponent("recording.flv").path,
                configuration: .init(reconnect: try ReconnectPolicy(initialDelay: 0.05, maximumDelay: 0.2, jitter: 0))
            )
            let running = Task { await recorder.run() }
            let midStream = try await eventually(timeout: 15) {
                recorder.progress.mediaSeconds >= Restart.killAfterSeconds
            }
            first.kill()
            let killedAt = recorder.progress.mediaSeconds
            let second = try Self.serve(
                restart.resendArguments,
                source: source,
                port: port,
                log: directory.appendingPathComponent("server2.log")
            )
            defer { second.kill() }
            // The second server sends the rest of the file and exits; the recorder has read it all once its
            // connection has ended (it is trying to reconnect).
            let served = try await eventually(timeout: 30) {
                second.hasExited() && recorder.progress.reconnects >= 1 && recorder.progress.state != .recording
            }
            recorder.stop()
            let summary = await running.value
            #expect(midStream && served, "progress: \(recorder.progress); server 2: \(second.printed)")
            #expect(summary.successfulOpens == 2, "\(summary)")

            let truth = try PacketDigest.read(url: source.path)
            let check = try ContentCheck.run(paths: summary.files, truth: truth, sessionLog: recorder.sessionLogPath)
            report(
                "recording of ffmpeg -listen killed with \(killedAt) s written, restarted with \(restart.testDescription), "
                    + "by content: \(check.figures); gaps: "
                    + check.gaps.map {
                        "\($0.fromSeconds)–\($0.toSeconds.map { "\($0)" } ?? "end") s, \($0.missing) missing"
                    }.joined(separator: "; ")
                    + "; \(summary.duplicatesDropped) duplicates dropped"
            )
            #expect(check.passed, "\(check.problems)")
            #expect(check.duplicated == 0, "\(check.problems)")
            #expect(check.missingUnlogged == 0, "\(check.problems)")
            #expect(check.gapsWithOtherBounds == 0, "\(check.gaps)")
            #expect(check.matched > 1000 && check.beforeStart <= 2, "\(check.figures)")
            return (check, truth)
        }
    }
}
