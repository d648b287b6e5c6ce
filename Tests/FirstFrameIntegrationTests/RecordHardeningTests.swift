import FirstFrame
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import Logging
import OriginTestSupport
import Testing

extension OriginTests {
    /// `firstframe record` and ``Recorder`` with numbers they cannot use, the summary after a clean stop, and the
    /// CLI's lines at the stop.
    @Suite struct RecordHardening {
        init() { FFmpegLog.level = .quiet }

        static let quiet: Logger = {
            var logger = Logger(label: "test.recorder")
            logger.logLevel = .critical
            return logger
        }()

        /// Each was a trap (SIGILL), an endless stream of lines, or a run with a value silently changed.
        static let badNumbers: [(String, String)] = [
            ("--duration", "nan"), ("--duration", "inf"), ("--duration", "1e308"), ("--duration", "0"),
            ("--duration", "-3"),
            ("--status-interval", "nan"), ("--status-interval", "0"), ("--status-interval", "1e300"),
            ("--segment", "nan"), ("--segment", "0"), ("--segment", "inf"),
            ("--max-attempts", "0"), ("--read-timeout-ms", "3600001"), ("--timeout", "nan"), ("--timeout", "inf"),
        ]

        @Test(
            .enabled(
                if: CommandLineProcess.executable != nil,
                "the firstframe executable is not built next to the tests"
            ),
            arguments: badNumbers
        )
        func aNumberRecordCannotUseIsAUsageErrorNamingIt(_ option: String, _ value: String) async throws {
            let closed = try ClosedPort()
            let directory = try CommandLineProcess.scratchDirectory("record-numbers")
            defer { try? FileManager.default.removeItem(at: directory) }
            var arguments = [
                "record", "http://127.0.0.1:\(closed.port)/live/x.flv", "--out", directory.path, option, value,
            ]
            // Bounded, for a build where the value is taken: the run ends and the test fails on its status.
            if option != "--duration" { arguments += ["--duration", "2"] }
            let run = try await CommandLineProcess.run(arguments, timeout: 15)
            #expect(!run.signalled && run.status == 64, "\(run.transcript)")
            let error = run.stderr.split(separator: "\n").first { $0.hasPrefix("Error:") }
            #expect(error?.contains(option) == true, "\(run.transcript)")
            #expect(run.stderr.utf8.count < 4000, "\(run.stderr.utf8.count) bytes on stderr")
        }

        @Test func theRecorderNamesTheParameterItCannotUse() throws {
            let directory = try CommandLineProcess.scratchDirectory("recorder-numbers")
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = directory.appendingPathComponent("x.ts").path
            let url = "http://127.0.0.1:9/x.flv"
            let recorders: [(String, () throws -> Recorder)] = [
                ("segmentSeconds", { try Recorder(url: url, path: path, configuration: .init(segmentSeconds: .nan)) }),
                ("segmentSeconds", { try Recorder(url: url, path: path, configuration: .init(segmentSeconds: 0)) }),
                (
                    "segmentSeconds",
                    { try Recorder(url: url, path: path, configuration: .init(segmentSeconds: .infinity)) }
                ),
                ("segmentSeconds", { try Recorder(url: url, path: path, configuration: .init(segmentSeconds: 1e300)) }),
                (
                    "readBatchSeconds",
                    { try Recorder(url: url, path: path, configuration: .init(readBatchSeconds: .nan)) }
                ),
                (
                    "readBatchSeconds",
                    { try Recorder(url: url, path: path, configuration: .init(readBatchSeconds: -1)) }
                ),
                (
                    "readBatchSeconds",
                    { try Recorder(url: url, path: path, configuration: .init(readBatchSeconds: .infinity)) }
                ),
                (
                    "initialDelay",
                    {
                        var policy = ReconnectPolicy.standard
                        policy.initialDelay = .nan  // set after the policy's own checks: the recorder checks again
                        return try Recorder(url: url, path: path, configuration: .init(reconnect: policy))
                    }
                ),
            ]
            for (parameter, make) in recorders {
                #expect(
                    performing: { _ = try make() },
                    throws: { ($0 as? RecorderParameterError)?.parameter == parameter }
                )
            }
            let policies: [(String, () throws -> ReconnectPolicy)] = [
                ("initialDelay", { try ReconnectPolicy(initialDelay: .nan) }),
                ("initialDelay", { try ReconnectPolicy(initialDelay: -1) }),
                ("multiplier", { try ReconnectPolicy(multiplier: .infinity) }),
                ("multiplier", { try ReconnectPolicy(multiplier: 0.5) }),
                ("maximumDelay", { try ReconnectPolicy(maximumDelay: 1e308) }),
                ("jitter", { try ReconnectPolicy(jitter: 2) }),
                ("maxAttempts", { try ReconnectPolicy(maxAttempts: 0) }),
            ]
            for (parameter, make) in policies {
                #expect(
                    performing: { _ = try make() },
                    throws: { ($0 as? RecorderParameterError)?.parameter == parameter }
                )
            }
            #expect(throws: DecodingError.self) {
                try JSONDecoder().decode(
                    ReconnectPolicy.self,
                    from: Data(#"{"initialDelay":1,"multiplier":2,"maximumDelay":30,"jitter":5}"#.utf8)
                )
            }
            // The ends of each range are accepted, and kept as given.
            let edges = try Recorder(
                url: url,
                path: path,
                configuration: .init(
                    segmentSeconds: 86_400,
                    reconnect: ReconnectPolicy(
                        initialDelay: 0,
                        multiplier: 1,
                        maximumDelay: 3600,
                        jitter: 1,
                        maxAttempts: 1
                    ),
                    readBatchSeconds: 0
                )
            )
            #expect(edges.configuration.segmentSeconds == 86_400 && edges.configuration.readBatchSeconds == 0)
        }

        /// Opens that fail, then a stop: the summary of a stopped recording carries no earlier error.
        @Test func aCleanStopCarriesNoEarlierError() async throws {
            let closed = try ClosedPort()
            let directory = try CommandLineProcess.scratchDirectory("recorder-stop")
            defer { try? FileManager.default.removeItem(at: directory) }
            let recorder = try Recorder(
                url: "http://127.0.0.1:\(closed.port)/live/x.flv",
                path: directory.appendingPathComponent("x.ts").path,
                configuration: .init(reconnect: ReconnectPolicy(initialDelay: 0.05, maximumDelay: 0.05, jitter: 0)),
                logger: Self.quiet
            )
            let running = Task { await recorder.run() }
            #expect(try await eventually(timeout: 10) { recorder.progress.lastProblem != nil })
            recorder.stop()
            let summary = await running.value
            #expect(summary.outcome == .stopped)
            #expect(summary.attempts >= 1 && summary.successfulOpens == 0)
            #expect(summary.message == nil, "a stopped recording's message: \(summary.message ?? "")")
            // The failed opens are still in the session log.
            let log = try String(contentsOfFile: recorder.sessionLogPath, encoding: .utf8)
            #expect(log.contains("\"attempt\"") && log.contains("refused"))
        }

        /// `record --duration 4 --status-interval 1` on a steady channel: the lines at the stop give the rate up
        /// to the stop (they said 0 kbit/s, or thousands, measured again after the files were finalised), and the
        /// summary names the channel's URL without its password.
        @Test(
            .enabled(
                if: CommandLineProcess.executable != nil,
                "the firstframe executable is not built next to the tests"
            )
        )
        func theLinesAtTheStopAreMeasuredUpToIt() async throws {
            let directory = try CommandLineProcess.scratchDirectory("record-status")
            defer { try? FileManager.default.removeItem(at: directory) }
            try await withOrigin { origin in
                try await origin.prepareChannels(["room"])
                let url = origin.url(.gop, channel: "room").replacingOccurrences(
                    of: "http://",
                    with: "http://viewer:s3cr3t@"
                )
                let run = try await CommandLineProcess.run(
                    ["record", url, "--out", directory.path, "--duration", "4", "--status-interval", "1"],
                    timeout: 30
                )
                #expect(run.status == 0, "\(run.transcript)")
                // "record 3 s: room: recording, 0.3 MB, 871 kbit/s, 3.1 s, 0 reconnects, first picture 12 ms"
                let rates = run.stderr.split(separator: "\n").filter { $0.hasPrefix("record ") }.compactMap {
                    line -> Double? in
                    guard let range = line.range(of: #"[0-9]+ kbit/s"#, options: .regularExpression) else { return nil }
                    return Double(line[range].split(separator: " ")[0])
                }
                report("record status lines' kbit/s: \(rates.map { String(Int($0)) }.joined(separator: ", "))")
                try #require(rates.count >= 3, "\(run.transcript)")
                let earlier = rates.dropFirst().dropLast().sorted()
                let median = earlier[earlier.count / 2]
                let last = rates.last!
                #expect(
                    last > 0.4 * median && last < 2.5 * median,
                    "the last line's \(last) kbit/s against \(median) before it"
                )
                #expect(
                    run.stdout.contains("room (http://***@127.0.0.1:\(origin.port)/gop/room.flv): stopped,"),
                    "\(run.transcript)"
                )
                #expect(!run.stdout.contains("s3cr3t") && !run.stderr.contains("s3cr3t"))
            }
        }
    }
}

extension OriginTests.FFmpegLogRouting {
    /// A live edge that drops the connection inside a packet: FFmpeg's lines about that packet (which the kept
    /// stream never hands on) and http's "Stream ends prematurely … should be 18446744073709551615" (a response of
    /// unknown length ended) are logged at debug, not as errors.
    @Test func theInputsEndInsideAPacketIsLoggedAtDebug() async throws {
        try await withOrigin { origin in
            var cut = false
            // Where a cut lands depends on the GOP served: try a few until one falls inside a packet.
            for bytes in stride(from: 100_000, through: 300_000, by: 25_000) where !cut {
                let capture = LogCapture()
                let url = origin.url(.gop, behaviour: Behaviour(closeAfterBytes: bytes))
                guard
                    let stream = try? await StreamOpener(preset: .instant, logger: capture.logger(label: "test.open"))
                        .open(url)
                else { continue }
                let end = try await blocking { () -> StreamEnd in
                    while true {
                        do throws(StreamEnd) {
                            if try stream.readPacket() == nil { return stream.end! }
                        } catch {
                            return error
                        }
                    }
                }
                stream.close()
                guard end.message.contains("inside a packet") else { continue }
                cut = true
                let lines = capture.ffmpegLines
                let aboutCut = lines.filter {
                    $0.message.hasPrefix("Packet corrupt (") || $0.message.hasPrefix("Invalid NAL unit size")
                        || $0.message.hasPrefix("missing picture in access unit")
                }
                let premature = lines.filter { $0.message.hasPrefix("Stream ends prematurely at ") }
                report(
                    "cut after \(bytes) bytes: \(aboutCut.count) lines about the cut packet, \(premature.count) 'ends prematurely'"
                )
                #expect(
                    !aboutCut.isEmpty,
                    "FFmpeg said nothing about the cut packet: \(lines.map(\.message).suffix(10))"
                )
                #expect(aboutCut.allSatisfy { $0.level == .debug }, "\(aboutCut.map { "\($0.level) \($0.message)" })")
                #expect(
                    !premature.isEmpty
                        && premature.allSatisfy {
                            $0.level == .debug && $0.metadata[FFmpegLog.levelMetadataKey] == "error"
                        }
                )
                let loud = lines.filter { $0.level >= .warning }
                #expect(loud.isEmpty, "\(loud.map { "\($0.level) \($0.message)" })")
            }
            #expect(cut, "no cut landed inside a packet")
        }
    }
}
