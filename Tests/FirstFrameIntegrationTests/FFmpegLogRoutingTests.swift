import FirstFrame
import FirstFrameFFmpeg
import FirstFrameNetwork
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import Logging
import OriginTestSupport
import Synchronization
import Testing

extension OriginTests {
    /// FFmpeg's own lines go to the logger of the open they belong to (``FFmpegLog/routeToSwiftLog(fallback:)``),
    /// and the CLI prints none of them behind swift-log's back.
    @Suite struct FFmpegLogRouting {
        init() { FFmpegLog.routeToSwiftLog() }

        @Test func aRefusedConnectLogsTCPsErrorToTheOpenersLogger() async throws {
            let closed = try ClosedPort()
            let capture = LogCapture()
            let url = "http://127.0.0.1:\(closed.port)/live/refused.flv"
            let report = await StreamOpener(preset: .instant, logger: capture.logger(label: "test.open")).report(
                opening: url
            )
            #expect(report.outcome == .failed)
            let lines = capture.ffmpegLines
            let tcp = lines.filter { $0.component == "tcp" }
            let failed = try #require(
                tcp.first { $0.message.hasPrefix("Connection to tcp://127.0.0.1:\(closed.port)") }
            )
            #expect(failed.message.contains("failed"))
            #expect(failed.level == .error && failed.metadata[FFmpegLog.levelMetadataKey] == "error")
            // VERBOSE → debug.
            let attempt = try #require(
                tcp.first { $0.message.hasPrefix("Starting connection attempt to 127.0.0.1 port \(closed.port)") }
            )
            #expect(attempt.level == .debug && attempt.metadata[FFmpegLog.levelMetadataKey] == "verbose")
            // The open's metadata: its URL, and the stage it was in (from the trace, where there is one).
            #expect(lines.allSatisfy { $0.metadata["url"] == url })
            if NetworkTrace.isAvailable { #expect(failed.metadata["stage"] == "tcpConnect") }
            // Every line has its component, and none FFmpeg's "[tcp @ 0x…]" prefix.
            #expect(lines.allSatisfy { $0.component != nil && !$0.message.hasPrefix("[") })
        }

        @Test func credentialsInTheURLAreRedactedInTheMetadata() async throws {
            let closed = try ClosedPort()
            let capture = LogCapture()
            _ = await StreamOpener(preset: .instant, logger: capture.logger(label: "test.open"))
                .report(opening: "http://user:secret@127.0.0.1:\(closed.port)/live/x.flv")
            #expect(!capture.ffmpegLines.isEmpty)
            #expect(
                capture.ffmpegLines.allSatisfy {
                    $0.metadata["url"] == "http://***@127.0.0.1:\(closed.port)/live/x.flv"
                }
            )
        }

        @Test func anOriginOpenLogsTCPHTTPAndTheDemuxerAtTheirLevels() async throws {
            try await withOrigin { origin in
                let capture = LogCapture()
                let quiet = LogCapture()
                let url = origin.url(.gop)
                let stream = try await StreamOpener(preset: .instant, logger: capture.logger(label: "test.open")).open(
                    url
                )
                let open = capture.ffmpegLines
                _ = try await StreamOpener(preset: .instant, logger: quiet.logger(label: "test.open", level: .info))
                    .open(url)

                let attempt = try #require(
                    open.first {
                        $0.component == "tcp"
                            && $0.message.hasPrefix("Starting connection attempt to 127.0.0.1 port \(origin.port)")
                    }
                )
                #expect(attempt.level == .debug)
                #expect(
                    open.contains {
                        $0.component == "tcp"
                            && $0.message.hasPrefix("Successfully connected to 127.0.0.1 port \(origin.port)")
                    }
                )
                // http's DEBUG "request: …" → trace; its TRACE "header='…'" lines → trace.
                let request = try #require(
                    open.first { $0.component == "http" && $0.message.hasPrefix("request: GET /gop/stream.flv") }
                )
                #expect(request.level == .trace && request.metadata[FFmpegLog.levelMetadataKey] == "debug")
                #expect(
                    open.contains {
                        $0.component == "http" && $0.message.hasPrefix("header='")
                            && $0.metadata[FFmpegLog.levelMetadataKey] == "trace"
                    }
                )
                #expect(open.contains { $0.component == "flv" && $0.message.hasPrefix("type:9, size:") })
                #expect(open.allSatisfy { $0.metadata["url"] == url })
                if NetworkTrace.isAvailable {
                    #expect(attempt.metadata["stage"] == "tcpConnect")
                    #expect(request.metadata["stage"] == "httpResponse")
                }
                // The stage moves on with the open, in order.
                let stages = open.compactMap { $0.metadata["stage"].flatMap(Stage.init(rawValue:)) }
                #expect(
                    stages.count == open.count
                        && zip(stages, stages.dropFirst()).allSatisfy { $0 <= $1 || $1.isNetwork }
                )
                #expect(stages.last == .decode)
                // A logger at info is handed none of those.
                #expect(quiet.ffmpegLines.allSatisfy { $0.level >= .info })

                // The kept stream's reads, on the read-ahead's thread, log to the same logger (with no stage: the
                // open is over).
                var packets = 0
                for try await _ in stream.packets() {
                    packets += 1
                    if packets == 80 { break }
                }
                stream.close()
                let reads = capture.ffmpegLines.dropFirst(open.count)
                #expect(reads.contains { $0.component == "flv" && $0.message.hasPrefix("type:") })
                #expect(reads.allSatisfy { $0.metadata["url"] == url && $0.metadata["stage"] == nil })
                FirstFrameTestSupport.report(
                    "origin open: \(open.count) FFmpeg lines during the open, \(reads.count) during \(packets) packets' reads"
                )
            }
        }

        /// Two opens at once, each with its logger: each gets its own lines only (told apart by what FFmpeg puts
        /// in them: the refused port, the request's query).
        @Test func concurrentOpensEachGetOnlyTheirOwnLines() async throws {
            let refusedA = try ClosedPort()
            let refusedB = try ClosedPort()
            try await withOrigin { origin in
                for round in 0..<3 {
                    let a = LogCapture()
                    let b = LogCapture()
                    let openerA = StreamOpener(preset: .instant, logger: a.logger(label: "test.open"))
                    let openerB = StreamOpener(preset: .instant, logger: b.logger(label: "test.open"))
                    // Distinct, harmless behaviours: the query FFmpeg logs in its request tells the opens apart.
                    let servedA = origin.url(.gop, behaviour: Behaviour(responseDelayMilliseconds: 2 * round + 1))
                    let servedB = origin.url(.gop, behaviour: Behaviour(responseDelayMilliseconds: 2 * round + 2))
                    async let refusedReportA = openerA.report(opening: "http://127.0.0.1:\(refusedA.port)/live/a.flv")
                    async let refusedReportB = openerB.report(opening: "http://127.0.0.1:\(refusedB.port)/live/b.flv")
                    async let servedReportA = openerA.report(opening: servedA)
                    async let servedReportB = openerB.report(opening: servedB)
                    let outcomes = await [refusedReportA, refusedReportB, servedReportA, servedReportB].map(\.outcome)
                    #expect(outcomes == [.failed, .failed, .ok, .ok])

                    expectOnlyOwnLines(
                        a.ffmpegLines.map(\.message),
                        refused: refusedA.port,
                        served: Self.query(servedA),
                        otherRefused: refusedB.port,
                        otherServed: Self.query(servedB)
                    )
                    expectOnlyOwnLines(
                        b.ffmpegLines.map(\.message),
                        refused: refusedB.port,
                        served: Self.query(servedB),
                        otherRefused: refusedA.port,
                        otherServed: Self.query(servedA)
                    )
                }
            }
        }

        private static func query(_ url: String) -> String { String(url.split(separator: "?").last!) }

        private func expectOnlyOwnLines(
            _ lines: [String],
            refused: Int,
            served: String,
            otherRefused: Int,
            otherServed: String,
            sourceLocation: SourceLocation = #_sourceLocation
        ) {
            let refusedLine = lines.contains { $0.hasPrefix("Connection to tcp://127.0.0.1:\(refused)") }
            let requestLine = lines.contains { $0.hasPrefix("request: GET /gop/stream.flv?\(served)") }
            let foreign = lines.filter { line in
                line.contains(":\(otherRefused)") || line.contains("port \(otherRefused)") || line.contains(otherServed)
            }
            #expect(refusedLine, sourceLocation: sourceLocation)
            #expect(requestLine, sourceLocation: sourceLocation)
            #expect(foreign.isEmpty, "\(foreign)", sourceLocation: sourceLocation)
        }

        /// How a packet is cut short: the server stops inside it (the read timeout interrupts the read), the
        /// application closes the stream while the read-ahead waits inside it, or the connection drops inside it.
        enum CutEnd: String, CaseIterable, Sendable { case readTimeout, closed, dropped }

        /// A video packet cut short is never handed on, and FFmpeg's lines about it (the demuxer's warning
        /// "Packet corrupt (…)", then the H.264 parser's errors "Invalid NAL unit size (…)" and "missing picture in
        /// access unit …", from a context named NULL) are logged at debug — for a logger at `error` too, which
        /// never sees the demuxer's warning that starts the hold. (Seen on the rig's 4g link: every close of a
        /// player or feed room inside a tag printed the parser's two errors.)
        @Test(arguments: CutEnd.allCases)
        func aCutPacketsLinesAreDebugWhateverTheLoggersLevel(_ cutEnd: CutEnd) async throws {
            let file = try [UInt8](Data(contentsOf: MediaFixtures.files().audioVideoFLV))
            // A video tag a second in, cut in the middle of its data: past its first NAL unit's length.
            let tag = try #require(
                MediaFixtures.flvTags(file).tags.first { $0.type == 9 && $0.timestamp >= 1000 && $0.dataSize > 2000 }
            )
            let body = Array(file[0..<(tag.offset + 16 + (tag.dataSize - 5) / 2)])
            let head = ScriptedHTTPServer.Response.head(200, headers: [("Content-Type", "video/x-flv")])
            let server = try ScriptedHTTPServer { _ in
                cutEnd == .dropped ? .bytes(head + body) : .init([.send(head + body), .hold])
            }
            defer { server.stop() }
            let url = "\(server.baseURL)/cut.flv"

            // The same cut twice: a logger at trace (to see what FFmpeg says about it), one at error.
            var linesAboutTheCut: [Logger.Level: [LogCapture.Line]] = [:]
            for level in [Logger.Level.trace, .error] {
                let capture = LogCapture()
                var knobs = Preset.instant.knobs
                knobs.readTimeoutMs = cutEnd == .readTimeout ? 300 : 10_000
                let stream = try await StreamOpener(
                    knobs: knobs,
                    logger: capture.logger(label: "test.open", level: level)
                )
                .open(url)
                let events = stream.events(stallAfter: .milliseconds(100))
                let reading = Task {
                    var handedOn: [Int64] = []
                    do throws(StreamEnd) {
                        for try await packet in stream.packets() where packet.mediaKind == .video {
                            handedOn.append(packet.dts ?? -1)
                        }
                    } catch {}
                    return handedOn
                }
                if cutEnd == .closed {
                    // The read-ahead waits inside the cut tag (the server holds the connection after it).
                    for await event in events where event.kind.name == "stallStarted" { break }
                    stream.close()
                }
                let handedOn = await reading.value
                let end = try #require(stream.end)
                stream.close()
                #expect(end.reason == [.readTimeout: .stalled, .closed: .closed, .dropped: .connectionDropped][cutEnd])
                if cutEnd != .closed { #expect(end.discardedBytes == body.count - (tag.offset + 16), "\(end)") }
                #expect(!handedOn.isEmpty && handedOn.allSatisfy { $0 < Int64(tag.timestamp) }, "the cut tag handed on")
                linesAboutTheCut[level] = capture.ffmpegLines.filter {
                    $0.message.hasPrefix("Packet corrupt (") || $0.message.hasPrefix("Invalid NAL unit size")
                        || $0.message.hasPrefix("missing picture in access unit")
                }
            }
            let traced = linesAboutTheCut[.trace] ?? []
            FirstFrameTestSupport.report("\(cutEnd): \(traced.map(\.description))")
            #expect(traced.contains { $0.message.hasPrefix("Invalid NAL unit size") }, "FFmpeg said nothing of the cut")
            #expect(traced.allSatisfy { $0.level == .debug }, "\(traced)")
            #expect(linesAboutTheCut[.error]?.isEmpty == true, "\(linesAboutTheCut[.error] ?? [])")
        }

        // MARK: The CLI

        /// `firstframe probe` against a refused port and against the origin: its stderr holds nothing FirstFrame
        /// did not choose to print (no FFmpeg line, in FFmpeg's format or swift-log's); with
        /// `FIRSTFRAME_FFMPEG_LOG=verbose` FFmpeg's lines come, as swift-log lines.
        @Test(
            .enabled(
                if: OriginTests.HungResolverProcess.executable != nil,
                "the firstframe executable is not built next to the tests"
            )
        )
        func theCLIPrintsNoFFmpegLineUnlessAskedTo() async throws {
            let closed = try ClosedPort()
            let refused = "http://127.0.0.1:\(closed.port)/live/x.flv"
            try await withOrigin { origin in
                for url in [refused, origin.url(.gop)] {
                    let quiet = try await Self.probe(url)
                    FirstFrameTestSupport.report(
                        "probe \(url): exit \(quiet.status), stderr \(quiet.stderr.utf8.count) bytes"
                    )
                    #expect(quiet.status == (url == refused ? 1 : 0))
                    #expect(quiet.stdout.contains("\"outcome\":\"\(url == refused ? "failed" : "ok")\""))
                    #expect(quiet.stderr.isEmpty, "stderr: \(quiet.stderr)")

                    let verbose = try await Self.probe(url, environment: ["FIRSTFRAME_FFMPEG_LOG": "verbose"])
                    for line in verbose.stderr.split(separator: "\n").prefix(8) {
                        FirstFrameTestSupport.report("  \(line)")
                    }
                    for prefix in ["[tcp @ 0x", "[http @ 0x", "[flv @ 0x", "[h264 @ 0x"] {
                        #expect(!verbose.stderr.contains(prefix), "stderr: \(verbose.stderr)")
                    }
                    #expect(verbose.stderr.contains("ffmpeg.component=tcp"))
                    #expect(verbose.stderr.contains("Starting connection attempt to 127.0.0.1 port"))
                    if url == refused {
                        #expect(verbose.stderr.contains("Connection to tcp://127.0.0.1:\(closed.port) failed"))
                    }
                    // verbose is swift-log's debug: the trace-level request lines stay out.
                    #expect(!verbose.stderr.contains("request: GET"))
                }
            }
        }

        /// Runs `firstframe probe --json URL` (the shared ``CommandLineProcess``); killed (and failed) after 20 s.
        static func probe(_ url: String, environment: [String: String] = [:]) async throws -> CommandLineProcess {
            try await CommandLineProcess.run(
                ["probe", "--json", "--set", "totalDeadline=10", url],
                environment: environment,
                timeout: 20
            )
        }
    }
}

extension LogCapture.Line: CustomStringConvertible {
    var component: String? { metadata[FFmpegLog.componentMetadataKey] }
    public var description: String {
        "\(level) [\(component ?? "-")/\(metadata[FFmpegLog.levelMetadataKey] ?? "-") stage=\(metadata["stage"] ?? "-")] \(message)"
    }
}

extension LogCapture {
    /// FFmpeg's lines only (the opener logs to the same logger).
    var ffmpegLines: [Line] { lines.filter { $0.metadata[FFmpegLog.levelMetadataKey] != nil } }
}
