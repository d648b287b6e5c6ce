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
    /// FFmpeg 5.1 seeks an FLV input (`-ss` before `-i`) to the keyframe at or before the time, and stream copy sends
    /// everything from there: the re-send starts at a keyframe, and `-copyinkf` changes nothing. An output `-ss`
    /// (after `-i`) drops what comes before its time, and with `-copyinkf` the re-send starts with the inter frames
    /// before the next keyframe; it always restarts the output's timestamps (`-output_ts_offset` puts them back for
    /// the same clock).
    @Suite struct RecordingFFmpegRestart {
        init() { FFmpegLog.level = .quiet }

        struct Restart: Sendable, CustomTestStringConvertible {
            /// Whether the new server keeps the file's timestamps (`-copyts`): the same clock as the first.
            var sameClock: Bool
            /// Whether the re-send starts between keyframes (an output `-ss` with `-copyinkf`), else at a keyframe.
            var midGOP: Bool

            var testDescription: String {
                "\(sameClock ? "-copyts (same clock)" : "new clock from 0"), re-send from "
                    + (midGOP ? "\(Self.midGOPSeconds) s (mid-GOP, -copyinkf)" : "the keyframe before \(Self.keyframeSeekSeconds) s")
            }

            /// The first server is killed once the recorder has written this much (keyframes every 2 s).
            static let killAfterSeconds = 6.8
            /// A keyframe-aligned re-send: the input seek lands on the keyframe at 6 s (its pts 6.08 s ≤ 6.5), the
            /// GOP of the drop, as an edge's GOP cache re-sends it.
            static let keyframeSeekSeconds = 6.5
            /// A mid-GOP re-send: the inter frames from 5.5 s, the keyframe at 6 s, and on.
            static let midGOPSeconds = 5.5

            /// The second server's arguments before the output's `-c copy`.
            var resendArguments: [String] {
                if midGOP {
                    let keyframe = 4.0, from = Self.midGOPSeconds
                    return sameClock
                        ? ["-copyts", "-ss", "\(keyframe)", "-readrate", "4", "-i", "SOURCE", "-ss", "\(from)", "-output_ts_offset", "\(from)"]
                        : ["-ss", "\(keyframe)", "-readrate", "4", "-i", "SOURCE", "-ss", "\(from - keyframe)"]
                }
                return (sameClock ? ["-copyts"] : []) + ["-ss", "\(Self.keyframeSeekSeconds)", "-readrate", "4", "-i", "SOURCE"]
            }

            static let all = [false, true].flatMap { midGOP in [true, false].map { Restart(sameClock: $0, midGOP: midGOP) } }
        }

        /// 20 s of x264 (defaults: B-frames; a keyframe every 2 s) and AAC in FLV, made once per process.
        private static let source: Result<URL, MediaFixtures.Failure> = Result { () throws(MediaFixtures.Failure) -> URL in
            let files = try MediaFixtures.files()
            let source = files.directory.appendingPathComponent("restart-src.flv")
            try MediaFixtures.run("/usr/bin/ffmpeg", [
                "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                "-g", "50", "-c:a", "aac", "-t", "20", source.path])
            return source
        }

        private static func serve(_ arguments: [String], source: URL, port: Int, log: URL) throws -> SpawnedProcess {
            try SpawnedProcess("/usr/bin/ffmpeg", ["-nostdin", "-v", "error"] + arguments.map { $0 == "SOURCE" ? source.path : $0 }
                + ["-c", "copy", "-copyinkf", "-f", "flv", "-listen", "1", "http://127.0.0.1:\(port)/x.flv"], output: log)
        }

        @Test(arguments: Restart.all)
        func aRecordingAcrossARestartedServerHoldsTheSourceFile(_ restart: Restart) async throws {
            let source = try Self.source.get()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("restart-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let port = try LoopbackSocket.freePort()
            // At 4× real time: a live sender all the same (paced by its clock).
            let first = try Self.serve(["-readrate", "4", "-i", "SOURCE"], source: source, port: port,
                                       log: directory.appendingPathComponent("server1.log"))
            defer { first.kill() }
            // Listening shows in /proc before anyone connects (a test connection would take the one accept).
            #expect(try await eventually(timeout: 10) { LoopbackSocket.isListening(port: port) }, "\(first.printed)")

            let recorder = try Recorder(
                url: "http://127.0.0.1:\(port)/x.flv", path: directory.appendingPathComponent("recording.flv").path,
                reconnect: ReconnectPolicy(initialDelay: 0.05, maximumDelay: 0.2, jitter: 0))
            let running = Task { await recorder.run() }
            let midStream = try await eventually(timeout: 15) { recorder.progress.mediaSeconds >= Restart.killAfterSeconds }
            first.kill()
            let killedAt = recorder.progress.mediaSeconds
            let second = try Self.serve(restart.resendArguments, source: source, port: port,
                                        log: directory.appendingPathComponent("server2.log"))
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
            report("recording of ffmpeg -listen killed at \(killedAt) s written, restarted with \(restart.testDescription) by content: "
                + "\(check.figures); gaps: "
                + check.gaps.map { "\($0.fromSeconds)–\($0.toSeconds.map { "\($0)" } ?? "end") s, \($0.missing) missing" }.joined(separator: "; ")
                + "; \(summary.duplicatesDropped) duplicates dropped")
            #expect(check.passed, "\(check.problems)")
            #expect(check.duplicated == 0, "\(check.problems)")
            #expect(check.missingUnlogged == 0, "\(check.problems)")
            #expect(check.gapsWithOtherBounds == 0, "\(check.gaps)")
            // The re-send covers the drop: every packet of the file from the first keyframe on is in the recording.
            #expect(check.inGaps == 0 && check.afterEnd == 0, "\(check.figures)")
            #expect(check.beforeStart <= 2, "\(check.figures)")
            #expect(check.matched == truth.count - check.beforeStart, "\(check.figures)")
        }
    }
}
