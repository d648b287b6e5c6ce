import CFFmpeg
import FirstFrame
import FirstFrameFFmpeg
import FirstFrameNetwork
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
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
                #expect(
                    previous.endMs == next.startMs,
                    "gap or overlap between \(previous.name) and \(next.name)",
                    sourceLocation: sourceLocation
                )
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
                #expect(
                    opened.stages.map(\.name) == [
                        .dns, .tcpConnect, .httpResponse, .formatProbe, .streamInfo, .buffering, .decode,
                    ]
                )
                #expect(opened.hops.count == 1 && opened.hops.first?.status == 200)
                #expect(
                    opened.streams.map(\.type) == [.video, .audio] || opened.streams.map(\.type) == [.audio, .video]
                )
                let video = try #require(opened.streams.first { $0.type == .video })
                #expect(video.codec == "h264" && video.width == 640 && video.height == 360)
                #expect(opened.streams.first { $0.type == .audio }?.sampleRate == 44100)
                let keyframe = try #require(opened.milestones.firstKeyframeMs)
                let picture = try #require(opened.milestones.firstVideoFrameMs)
                #expect(keyframe <= picture)
                #expect(stream.takeVideoDecoder()?.firstPicture.width == 640)
                report(
                    "instant, gop: first picture \(picture) ms (keyframe \(keyframe) ms); "
                        + opened.stages.map { "\($0.name.rawValue) \(String(format: "%.1f", $0.durationMs))" }.joined(
                            separator: ", "
                        )
                )
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
                let instantAfterKeyframe =
                    try #require(instant.summary.firstVideoFrameMs) - (try #require(instant.milestones.firstKeyframeMs))
                let stockAfterKeyframe =
                    try #require(stock.summary.firstVideoFrameMs) - (try #require(stock.milestones.firstKeyframeMs))
                // The keyframe milestone is when its bytes arrived (from the trace), so both wait from the same point.
                #expect(stockAfterKeyframe > 1000)
                report(
                    "live: stock first picture \(stock.summary.firstVideoFrameMs!) ms (stream info \(stock.summary.streamInfoMs) ms), instant \(instant.summary.firstVideoFrameMs!) ms; after the keyframe: stock \(stockAfterKeyframe) ms, instant \(instantAfterKeyframe) ms"
                )
                // 40 frames at 25 fps is 1.6 s of media that stock FFmpeg waits for in real time.
                #expect(stockInfo > 1000)
                // (Where instant waits for the keyframe depends on the probe: with `format=auto` on a .flv URL there is
                // none, so FFmpeg blocks in its first read, during stream info.)
                #expect(instant.summary.bufferingMs + instant.summary.decodeMs < 100)
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

extension OriginTests {
    /// Bad input ends in a typed error naming the stage, within the deadline, with the partial report.
    @Suite struct OpenFailures {
        init() { FFmpegLog.level = .quiet }

        private func failure(
            _ url: String,
            knobs: TuningKnobs = Preset.instant.knobs
        ) async throws -> (OpenError, Double) {
            let opener = try StreamOpener(knobs: knobs, presetName: "test")
            let start = MonotonicClock.nanoseconds()
            do throws(OpenError) {
                _ = try await opener.open(url)
            } catch {
                return (error, MonotonicClock.milliseconds(since: start))
            }
            Issue.record("the open of \(url) succeeded")
            throw CancellationError()
        }

        @Test func unreachablePortFailsInTCPConnect() async throws {
            // Nothing listens on port 1 of loopback: the kernel refuses at once.
            let (error, _) = try await failure("http://127.0.0.1:1/gop/stream.flv")
            #expect(error.stage == .tcpConnect)
            #expect(error.kind == .connect)
            #expect(error.message.contains("refused"))
            #expect(error.report.outcome == .failed)
            #expect(error.report.hops.first?.connects.first?.outcome == .failed)
            #expect(error.report.stages.last?.name == .tcpConnect)
        }

        @Test func unknownHostFailsInDNS() async throws {
            var knobs = Preset.instant.knobs
            knobs.resolve = ["known.test": ["127.0.0.1"]]
            let (error, _) = try await failure("http://unknown.test:9/live/stream.flv", knobs: knobs)
            #expect(error.stage == .dns)
            #expect(error.kind == .dns)
            #expect(error.message.contains("unknown.test"))
            #expect(error.report.stages.map(\.name) == [.dns])
        }

        @Test func notFoundFailsInTheHTTPResponse() async throws {
            try await withOrigin { origin in
                let (error, _) = try await failure(origin.url(.gop, behaviour: Behaviour(status: 404)))
                #expect(error.stage == .httpResponse)
                #expect(error.kind == .http)
                #expect(error.message.contains("404"))
                #expect(error.report.hops.first?.status == 404)
            }
        }

        @Test func somethingThatIsNotAStreamFailsInTheProbe() async throws {
            try await withOrigin { origin in
                // The index page (HTML). (The stats JSON, now with a channel list, is taken by one of FFmpeg's
                // probes and ends in stream info instead: what a body probes as is FFmpeg's call.)
                let (error, _) = try await failure(origin.baseURL + "/")
                #expect(error.stage == .formatProbe)
                #expect(error.kind == .invalidData)
                #expect(error.report.hops.first?.status == 200)
            }
        }

        @Test func truncatedStreamFailsWithEndOfStream() async throws {
            try await withOrigin { origin in
                // The preamble and a little media, then the origin closes: no keyframe ever arrives.
                let (error, _) = try await failure(origin.url(.live, behaviour: Behaviour(closeAfterBytes: 1500)))
                #expect([.endOfStream, .invalidData].contains(error.kind), "\(error)")
                #expect(error.report.milestones.firstVideoFrameMs == nil)
                #expect(error.report.summary.firstVideoFrameMs == nil)
            }
        }

        @Test func stalledStreamFailsAtTheDeadlineNamingTheStage() async throws {
            try await withOrigin { origin in
                var knobs = Preset.instant.knobs
                knobs.totalDeadline = 1
                let (error, elapsed) = try await failure(
                    origin.url(.gop, behaviour: Behaviour(stallAfterBytes: 3000)),
                    knobs: knobs
                )
                report("stalled origin, 1 s deadline: failed after \(elapsed) ms in \(error.stage.rawValue)")
                #expect(error.kind == .timeout)
                #expect(elapsed >= 1000 && elapsed < 1500)
                #expect(error.report.stages.last?.endMs ?? 0 >= 990)
            }
        }

        @Test func stageDeadlineStopsTheStageThatOverruns() async throws {
            try await withOrigin { origin in
                var knobs = Preset.fieldReport.knobs
                knobs.stageDeadlines = [.buffering: 50]
                knobs.minVideoFrames = 10_000  // never met
                let (error, elapsed) = try await failure(origin.url(.live), knobs: knobs)
                #expect(error.stage == .buffering)
                #expect(error.kind == .timeout)
                #expect(elapsed < 5000)
            }
        }

        @Test func cancellingTheTaskStopsTheOpen() async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop, behaviour: Behaviour(responseDelayMilliseconds: 5000))
                let task = Task { try await StreamOpener(preset: .instant).open(url) }
                try await Task.sleep(for: .milliseconds(200))  // the scenario: the caller gives up while it waits
                let start = MonotonicClock.nanoseconds()
                task.cancel()
                let result = await task.result
                let elapsed = MonotonicClock.milliseconds(since: start)
                guard case .failure(let error as OpenError) = result else {
                    Issue.record("expected an OpenError, got \(result)")
                    return
                }
                #expect(error.kind == .cancelled)
                #expect(error.stage == .httpResponse)
                #expect(elapsed < 500, "FFmpeg polls the interrupt callback every 100 ms")
            }
        }
    }
}

extension OriginTests.StreamOpening {
    /// The `resolve` knob answers the open's lookups through a cache of its own (no process-wide install).
    @Test(.enabled(if: NetworkTrace.isAvailable))
    func resolveKnobAnswersTheOpensLookups() async throws {
        try await withOrigin { origin in
            var knobs = Preset.instant.knobs
            try knobs.set("resolve", "stream.test=127.0.0.1")
            let opener = try StreamOpener(knobs: knobs)
            #expect(DNSCache.installed == nil)
            let report = try await opener.open(origin.url(host: "stream.test")).report
            // As curl's --resolve: the fixed answer is in the cache before the first open.
            #expect(report.hops.first?.dns?.source == .cache)
            #expect(report.hops.first?.dns?.answers == ["127.0.0.1"])
            let again = try await opener.open(origin.url(host: "stream.test")).report
            #expect(again.hops.first?.dns?.source == .cache)
        }
    }
}

extension OriginTests {
    /// Protocols besides HTTP-FLV: a local file (no network stages) and HLS over HTTPS (a hop per request).
    @Suite struct OpenProtocols {
        init() { FFmpegLog.level = .quiet }

        /// A few seconds of the origin's channel as an FLV file.
        static func flvFile() throws -> URL {
            let program = try ChannelProgram.synthesized(MediaConfiguration())
            var bytes = program.header.encoded()
            for tag in [program.metadata].compactMap({ $0 }) + program.sequenceHeaders + program.media.prefix(300) {
                bytes += tag.encoded()
            }
            let url = FileManager.default.temporaryDirectory.appendingPathComponent(
                "firstframe-\(UUID().uuidString).flv"
            )
            try Data(bytes).write(to: url)
            return url
        }

        @Test(arguments: [Preset.instant, .ffmpeg])
        func localFileHasNoNetworkStages(_ preset: Preset) async throws {
            let file = try Self.flvFile()
            defer { try? FileManager.default.removeItem(at: file) }
            let report = try await StreamOpener(preset: preset).open(file.path).report
            #expect(report.outcome == .ok)
            #expect(report.hops.isEmpty)
            #expect(report.stages.map(\.name) == [.formatProbe, .streamInfo, .buffering, .decode])
            #expect(report.stages.first?.startMs == 0)
            #expect(report.stages.last?.endMs == report.summary.firstVideoFrameMs)
            #expect(Set(report.streams.map(\.codec)) == ["h264", "aac"])
            #expect(report.stages.reduce(0) { $0 + $1.bytes } > 0, "bytes come from the input's counter for files")
        }

        /// HLS from a keep-alive HTTP server: every playlist and segment request is a hop (the first with its
        /// lookup and connect, later ones reusing the connection), and the first picture comes from the first segment.
        @Test(.enabled(if: NetworkTrace.isAvailable))
        func hlsIsAHopPerRequest() async throws {
            let file = try Self.flvFile()
            defer { try? FileManager.default.removeItem(at: file) }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "firstframe-hls-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let segmenter = Process()
            segmenter.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
            segmenter.arguments = [
                "-loglevel", "error", "-i", file.path, "-c", "copy", "-f", "hls", "-hls_time", "2",
                "-hls_list_size", "0", directory.appendingPathComponent("live.m3u8").path,
            ]
            try segmenter.run()
            segmenter.waitUntilExit()
            try #require(segmenter.terminationStatus == 0)
            var files: [String: [UInt8]] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
                files[name] = Array(try Data(contentsOf: directory.appendingPathComponent(name)))
            }
            let server = try StaticFileServer(files: files)
            defer { server.stop() }
            var knobs = Preset.instant.knobs
            try knobs.set("resolve", "hls.test=127.0.0.1")
            let opened = try await StreamOpener(knobs: knobs, presetName: "instant+").open(
                "http://hls.test:\(server.port)/live.m3u8"
            ).report
            #expect(opened.outcome == .ok, "\(String(describing: opened.error))")
            let urls = opened.hops.compactMap(\.url)
            report(
                "HLS: \(opened.hops.count) hops (\(urls.map { URL(string: $0)?.lastPathComponent ?? $0 }.joined(separator: ", "))), first picture \(opened.summary.firstVideoFrameMs ?? -1) ms"
            )
            #expect(urls.first?.hasSuffix("/live.m3u8") == true)
            #expect(urls.contains { $0.hasSuffix(".ts") })
            #expect(opened.hops.allSatisfy { $0.status == 200 })
            #expect(opened.hops.first?.dns?.source == .cache, "resolve entries are cached before the first open")
            #expect(opened.hops.count >= 2)
            // Each hop says what it fetched and where the first segment sat (ffmpeg wrote a finished playlist).
            #expect(opened.hops.first?.role == .mediaPlaylist && opened.hops.first?.playlist?.isLive == false)
            #expect(opened.hops.contains { $0.role == .segment && $0.segment?.durationSeconds ?? 0 > 0 })
            // A segment starts with a keyframe: no keyframe wait, and no GOP-cache advice for HLS. The keyframe's
            // last byte is placed in the first segment's body by its position: its arrival is the network's.
            let causes = try #require(opened.causes)
            try OriginTests.Causes.expectTiling(opened)
            #expect(causes[.keyframeWait] < 5 && causes.keyframeArrival == .network)
            #expect(!opened.advice.contains { $0.remedy == .gopCache })
            report("HLS causes: " + OriginTests.Causes.line(opened))
        }
    }
}

extension OriginTests.OpenProtocols {
    /// RTMP from `ffmpeg -listen 1` (FFmpeg as a one-client RTMP server): one hop, recognised from the C0+C1
    /// handshake, whose first round trip is the response stage.
    @Test(.enabled(if: NetworkTrace.isAvailable && FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg")))
    func rtmpIsOneHopWithTheHandshakeAsTheResponse() async throws {
        let port = Int.random(in: 20000...40000)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        server.arguments = [
            "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
            "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "25",
            "-f", "flv", "-listen", "1", "rtmp://127.0.0.1:\(port)/live/stream",
        ]
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            if server.isRunning { kill(server.processIdentifier, SIGKILL) }
            server.waitUntilExit()
        }
        // Readiness, not a timing assumption: wait until the kernel shows the listening socket.
        let ready = try await eventually(timeout: 10) { LoopbackSocket.isListening(port: port) }
        try #require(ready)
        var knobs = Preset.instant.knobs
        try knobs.set("resolve", "rtmp.test=127.0.0.1")
        let opened = try await StreamOpener(knobs: knobs, presetName: "instant+").open(
            "rtmp://rtmp.test:\(port)/live/stream"
        ).report
        report(
            "RTMP: first picture \(opened.summary.firstVideoFrameMs ?? -1) ms; handshake round trip \(opened.summary.httpResponseMs) ms"
        )
        #expect(opened.outcome == .ok, "\(String(describing: opened.error))")
        #expect(opened.hops.count == 1)
        #expect(
            opened.stages.map(\.name) == [
                .dns, .tcpConnect, .httpResponse, .formatProbe, .streamInfo, .buffering, .decode,
            ]
        )
        #expect(opened.streams.first { $0.type == .video }?.width == 320)
    }
}

extension OriginTests.OpenProtocols {
    /// HTTPS (gnutls against `openssl s_server`): the TLS handshake is a stage of its own.
    @Test(.enabled(if: OpenSSLServer.isAvailable && NetworkTrace.isAvailable))
    func httpsHasATLSStage() async throws {
        let file = try Self.flvFile()
        defer { try? FileManager.default.removeItem(at: file) }
        let server = try OpenSSLServer(version: "-tls1_3", files: ["stream.flv": Array(try Data(contentsOf: file))])
        defer { server.stop() }
        var knobs = Preset.instant.knobs
        try knobs.set("resolve", "tls.test=127.0.0.1")
        // The server's certificate is self-signed: verified by default, it is refused as TLS.
        let refused = await (try StreamOpener(knobs: knobs)).report(
            opening: "https://tls.test:\(server.port)/stream.flv"
        )
        #expect(refused.error?.stage == .tls && refused.error?.kind == .tls, "\(String(describing: refused.error))")
        knobs.verifyTLS = false
        let opened = try await StreamOpener(knobs: knobs).open("https://tls.test:\(server.port)/stream.flv").report
        #expect(opened.outcome == .ok, "\(String(describing: opened.error))")
        #expect(opened.tlsPeerVerified == false)
        #expect(
            opened.stages.map(\.name) == [
                .dns, .tcpConnect, .tls, .httpResponse, .formatProbe, .streamInfo, .buffering, .decode,
            ]
        )
        #expect(opened.hops.first?.status == 200)
        #expect(opened.summary.tlsMs > 0)
    }
}
