import FirstFrame
import FirstFrameFFmpeg
import FirstFrameNetwork
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Synchronization
import Testing

extension OriginTests {
    /// Events as they happen (issue "Telemetry", item 4): an open's network and media events and a kept stream's
    /// stalls and end, in order, each at the time the report gives the same thing.
    @Suite struct OpenEventTests {
        init() { FFmpegLog.level = .quiet }

        /// The open's events through the AsyncSequence API, and the stream.
        static func openCollecting(
            _ opener: StreamOpener,
            _ url: String
        ) async throws -> ([OpenEvent], Result<OpenedStream, OpenError>) {
            let opening = opener.openWithEvents(url)
            var events: [OpenEvent] = []
            for await event in opening.events { events.append(event) }
            do throws(OpenError) {
                return (events, .success(try await opening.stream))
            } catch {
                return (events, .failure(error))
            }
        }

        /// Every hop, stage and milestone of the report has its event, at the same time, and nothing else does.
        static func expectMatches(
            _ events: [OpenEvent],
            _ report: FirstFrameReport,
            sourceLocation: SourceLocation = #_sourceLocation
        ) {
            for (index, hop) in report.hops.enumerated() {
                let mine = events.filter { $0.hop == index }
                if let dns = hop.dns {
                    let started = mine.first { $0.kind.name == "lookupStarted" }
                    #expect(started?.ms == dns.startMs, "hop \(index) lookup start", sourceLocation: sourceLocation)
                    let finished = mine.first { $0.kind.name == "lookupFinished" }
                    #expect(finished?.ms == dns.endMs, "hop \(index) lookup end", sourceLocation: sourceLocation)
                    if case .lookupFinished(let host, let source, let answers, let error) = finished?.kind {
                        #expect(
                            host == dns.host && source == dns.source && answers == dns.answers && error == dns.error,
                            sourceLocation: sourceLocation
                        )
                    }
                } else {
                    #expect(!mine.contains { $0.kind.name.hasPrefix("lookup") }, sourceLocation: sourceLocation)
                }
                let starts = mine.compactMap { event -> (Double, String, Int)? in
                    if case .connectStarted(let address, let port) = event.kind {
                        (event.ms, address, port)
                    } else {
                        nil
                    }
                }
                #expect(
                    starts.map(\.0) == hop.connects.map(\.startMs),
                    "hop \(index) connect starts",
                    sourceLocation: sourceLocation
                )
                #expect(starts.map(\.1) == hop.connects.map(\.address), sourceLocation: sourceLocation)
                #expect(starts.map(\.2) == hop.connects.map(\.port), sourceLocation: sourceLocation)
                let ends = mine.compactMap { event -> (Double, String, ConnectAttempt.Outcome, String?)? in
                    if case .connectFinished(let address, _, let outcome, let error) = event.kind {
                        (event.ms, address, outcome, error)
                    } else {
                        nil
                    }
                }
                for connect in hop.connects where connect.endMs != nil {
                    let end = ends.first { $0.1 == connect.address && $0.0 == connect.endMs }
                    #expect(
                        end?.2 == connect.outcome && end?.3 == connect.error,
                        "hop \(index) connect to \(connect.address)",
                        sourceLocation: sourceLocation
                    )
                }
                #expect(mine.first { $0.kind == .tlsStarted }?.ms == hop.tls?.startMs, sourceLocation: sourceLocation)
                if let end = hop.tls?.endMs {
                    #expect(mine.first { $0.kind.name == "tlsFinished" }?.ms == end, sourceLocation: sourceLocation)
                }
                let request = mine.first { $0.kind.name == "requestSent" }
                #expect(request?.ms == hop.requestStartMs, "hop \(index) request", sourceLocation: sourceLocation)
                if case .requestSent(let url) = request?.kind {
                    #expect(url == hop.url, sourceLocation: sourceLocation)
                }
                let response = mine.first { $0.kind.name == "responseStarted" }
                #expect(response?.ms == hop.responseStartMs, "hop \(index) response", sourceLocation: sourceLocation)
                if case .responseStarted(let status, _, let redirectTo) = response?.kind {
                    #expect(status == hop.status && redirectTo == hop.redirectTo, sourceLocation: sourceLocation)
                }
            }
            #expect(
                events.allSatisfy { ($0.hop ?? 0) < max(1, report.hops.count) },
                "events of hops the report does not have",
                sourceLocation: sourceLocation
            )

            func stageEnd(_ stage: Stage) -> Double? { report.stages.last { $0.name == stage }?.endMs }
            func ms(_ name: String) -> Double? { events.first { $0.kind.name == name }?.ms }
            #expect(ms("formatProbed") == stageEnd(.formatProbe), "probed", sourceLocation: sourceLocation)
            #expect(ms("streamsKnown") == stageEnd(.streamInfo), "streams", sourceLocation: sourceLocation)
            #expect(ms("bufferReady") == stageEnd(.buffering), "buffer", sourceLocation: sourceLocation)
            #expect(
                ms("firstKeyframe") == report.milestones.firstKeyframeMs,
                "keyframe",
                sourceLocation: sourceLocation
            )
            #expect(ms("firstPicture") == report.summary.firstVideoFrameMs, "picture", sourceLocation: sourceLocation)
            #expect(
                ms("firstAudioFrame") == report.milestones.firstAudioFrameMs,
                "audio",
                sourceLocation: sourceLocation
            )
            if let failure = report.error {
                #expect(events.last?.kind == .openFailed(failure), sourceLocation: sourceLocation)
            }
        }

        /// The delivery order of the first event of each kind.
        static func expectOrder(
            _ events: [OpenEvent],
            _ names: [String],
            sourceLocation: SourceLocation = #_sourceLocation
        ) {
            let positions = names.map { name in events.firstIndex { $0.kind.name == name } }
            #expect(
                !positions.contains(nil),
                "missing: \(zip(names, positions).filter { $0.1 == nil }.map(\.0))",
                sourceLocation: sourceLocation
            )
            let found = positions.compactMap { $0 }
            #expect(found == found.sorted(), "order: \(events.map(\.kind.name))", sourceLocation: sourceLocation)
        }

        static let openOrder = [
            "lookupStarted", "lookupFinished", "connectStarted", "connectFinished", "requestSent", "responseStarted",
            "formatProbed", "streamsKnown", "firstKeyframe", "firstPicture",
        ]

        /// A name looked up through the cache, a connect, a request and its 200, then the media: in that order,
        /// each at the report's time for it, and the sequence finishes when the open returns.
        @Test(arguments: [Preset.instant, .ffmpeg])
        func anOpensEventsComeInOrderAtTheReportsTimes(preset: Preset) async throws {
            try await withOrigin { origin in
                var knobs = preset.knobs
                knobs.resolve = ["stream.test": ["127.0.0.1"]]
                let opener = try StreamOpener(knobs: knobs, presetName: preset.rawValue)
                let (events, result) = try await Self.openCollecting(opener, origin.url(host: "stream.test", .gop))
                let stream = try result.get()
                defer { stream.close() }
                let opened = stream.report
                Self.expectOrder(events, Self.openOrder)
                Self.expectMatches(events, opened)
                let hop = try #require(opened.hops.first)
                #expect(opened.hops.count == 1)
                #expect(hop.dns?.source == .cache)
                #expect(
                    events.contains {
                        $0.kind
                            == .lookupFinished(host: "stream.test", source: .cache, answers: ["127.0.0.1"], error: nil)
                    }
                )
                #expect(
                    events.contains {
                        $0.kind == .responseStarted(status: 200, statusLine: "HTTP/1.1 200 OK", redirectTo: nil)
                    }
                )
                #expect(
                    events.contains { $0.kind == .requestSent(url: "http://stream.test:\(origin.port)/gop/stream.flv") }
                )
                #expect(events.contains { $0.kind == .formatProbed(format: "flv") })
                if case .streamsKnown(let streams) = events.first(where: { $0.kind.name == "streamsKnown" })?.kind {
                    let known: [String] = streams.map(\.type.rawValue).sorted()
                    let reported: [String] = opened.streams.map(\.type.rawValue).sorted()
                    #expect(known == reported)
                }
                if case .firstKeyframe(let readMs, let arrivedMs) = events.first(where: {
                    $0.kind.name == "firstKeyframe"
                })?.kind {
                    // Plain HTTP: the trace tells when the keyframe's last byte arrived, before the demuxer read it.
                    let arrived = try #require(arrivedMs)
                    #expect(arrived <= readMs)
                }
                #expect(events.last?.kind.name == "firstAudioFrame" || events.last?.kind.name == "firstPicture")
                // Every event on the report's clock, inside the open.
                let picture = try #require(opened.summary.firstVideoFrameMs)
                #expect(events.allSatisfy { $0.ms >= 0 && $0.ms <= (opened.milestones.firstAudioFrameMs ?? picture) })
                report(
                    "\(preset.rawValue) events: "
                        + events.map { String(format: "%@ %.1f", $0.kind.name, $0.ms) }.joined(separator: ", ")
                )
            }
        }

        /// A redirect: two hops, each with its own connect, request and response, numbered as the report numbers
        /// them; the first response says where it went.
        @Test func aRedirectIsASecondHop() async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop, behaviour: Behaviour(redirectHops: 1))
                let (events, result) = try await Self.openCollecting(StreamOpener(preset: .instant), url)
                let stream = try result.get()
                defer { stream.close() }
                #expect(stream.report.hops.count == 2)
                Self.expectMatches(events, stream.report)
                let responses = events.filter { $0.kind.name == "responseStarted" }
                #expect(responses.map(\.hop) == [0, 1])
                if case .responseStarted(let status, _, let target) = responses.first?.kind {
                    #expect(status == 302)
                    #expect(target != nil)
                }
                // Hop 1's events all come after hop 0's response.
                let firstOfHop1 = try #require(events.firstIndex { $0.hop == 1 })
                #expect(events[..<firstOfHop1].contains { $0.hop == 0 && $0.kind.name == "responseStarted" })
            }
        }

        /// HTTPS: the handshake's start and end between the connect and the request, the request and the response
        /// read from gnutls' plaintext, each at the report's time.
        @Test(.enabled(if: OpenSSLServer.isAvailable, "needs the openssl binary"))
        func httpsHasItsHandshakeEvents() async throws {
            let program = try ChannelProgram.synthesized(MediaConfiguration())
            var flv = program.header.encoded()
            for tag in [program.metadata].compactMap({ $0 }) + program.sequenceHeaders + program.media.prefix(60) {
                flv += tag.encoded()
            }
            let server = try OpenSSLServer(version: "-tls1_3", files: ["stream.flv": flv])
            defer { server.stop() }
            var knobs = Preset.instant.knobs
            knobs.resolve = ["tls.test": ["127.0.0.1"]]
            knobs.verifyTLS = false
            let (events, result) = try await Self.openCollecting(
                try StreamOpener(knobs: knobs),
                "https://tls.test:\(server.port)/stream.flv"
            )
            let stream = try result.get()
            defer { stream.close() }
            Self.expectOrder(
                events,
                ["connectFinished", "tlsStarted", "tlsFinished", "requestSent", "responseStarted", "firstPicture"]
            )
            Self.expectMatches(events, stream.report)
            #expect(events.contains { $0.kind == .tlsFinished(resumed: false, error: nil) })
            #expect(events.contains { $0.kind == .requestSent(url: "https://tls.test:\(server.port)/stream.flv") })
            let response = events.first { $0.kind.name == "responseStarted" }
            if case .responseStarted(let status, _, _) = response?.kind { #expect(status == 200) }
        }

        /// HLS, with a request on a kept-alive connection (the second media playlist on the first one's): every
        /// request is a hop, numbered as the report numbers them, the reused one with no lookup or connect.
        @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg"), "needs the ffmpeg CLI"))
        func keptAliveHLSRequestsAreHopsOfTheirOwn() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "events-hls-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let encoder = Process()
            encoder.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
            encoder.arguments = [
                "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-t", "3",
                "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-f", "hls", "-hls_time", "1",
                "-hls_segment_filename", directory.appendingPathComponent("s%03d.ts").path,
                directory.appendingPathComponent("index.m3u8").path,
            ]
            try encoder.run()
            encoder.waitUntilExit()
            try #require(encoder.terminationStatus == 0)
            var files: [String: [UInt8]] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
                files[name] = Array(try Data(contentsOf: directory.appendingPathComponent(name)))
            }
            // A master playlist of two variants (the same media twice): FFmpeg fetches the second media playlist on
            // the first one's connection, kept alive.
            files["other.m3u8"] = files["index.m3u8"]
            files["master.m3u8"] = Array(
                ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=160x120\nindex.m3u8\n"
                    + "#EXT-X-STREAM-INF:BANDWIDTH=200000,RESOLUTION=160x120\nother.m3u8\n").utf8
            )
            let server = try StaticFileServer(files: files)
            defer { server.stop() }
            let (events, result) = try await Self.openCollecting(
                StreamOpener(preset: .ffmpeg),
                "http://127.0.0.1:\(server.port)/master.m3u8"
            )
            let stream = try result.get()
            defer { stream.close() }
            let hops = stream.report.hops
            #expect(hops.count >= 2)
            #expect(hops.contains { $0.reusedConnection }, "kept-alive requests")
            Self.expectMatches(events, stream.report)
            #expect(Set(events.compactMap(\.hop)) == Set(hops.indices))
            report(
                "HLS events: " + events.filter(\.isNetwork).map { "\($0.hop!):\($0.kind.name)" }.joined(separator: " ")
            )
        }

        /// A port where connects are refused: the connect's start and its end with the kernel's error, at the
        /// report's times, then the failure, last.
        @Test func aRefusedConnectEndsWithItsError() async throws {
            let closed = try ClosedPort()
            defer { closed.close() }
            let (events, result) = try await Self.openCollecting(
                StreamOpener(preset: .instant),
                "http://127.0.0.1:\(closed.port)/live/x.flv"
            )
            guard case .failure(let error) = result else {
                Issue.record("the open succeeded")
                return
            }
            let failed = error.report
            #expect(failed.error?.kind == .connect)
            Self.expectMatches(events, failed)
            let attempt = try #require(failed.hops.first?.connects.first)
            #expect(
                events.contains {
                    $0.hop == 0 && $0.ms == attempt.startMs
                        && $0.kind == .connectStarted(address: "127.0.0.1", port: closed.port)
                }
            )
            #expect(
                events.contains { event in
                    event.hop == 0 && event.ms == attempt.endMs
                        && event.kind
                            == .connectFinished(
                                address: "127.0.0.1",
                                port: closed.port,
                                outcome: .failed,
                                error: "Connection refused"
                            )
                }
            )
            #expect(events.last?.kind.name == "openFailed")
            #expect(!events.contains { $0.kind.name == "requestSent" || $0.kind.name == "formatProbed" })
        }

        /// On a live join (no GOP cache) the open waits for the channel's next keyframe: the lookup, connect and
        /// response events reach the consumer during that wait, before the first picture's event is even emitted.
        /// The proof is the order of one log that the open's thread (emitting) and the consumer (receiving) both
        /// write to.
        @Test func eventsReachTheConsumerWhileTheOpenWaits() async throws {
            try await withOrigin { origin in
                let log = Mutex<[String]>([])
                let (stream, continuation) = AsyncStream.makeStream(
                    of: OpenEvent.self,
                    bufferingPolicy: .bufferingNewest(1024)
                )
                let consumer = Task {
                    for await event in stream { log.withLock { $0.append("received " + event.kind.name) } }
                }
                // Join with most of a GOP to wait (once the channel has run a while: its first keyframe is at 0), so
                // that the open is still waiting for the keyframe when the response is in.
                #expect(try await eventually(timeout: 5) { (1000...1600).contains(origin.millisecondsToNextKeyframe) })
                let opened = try await StreamOpener(preset: .instant).open(origin.url(host: "127.0.0.1", .live)) {
                    event in
                    log.withLock { $0.append("emitted " + event.kind.name) }
                    continuation.yield(event)
                }
                continuation.finish()
                await consumer.value
                defer { opened.close() }
                let lines = log.withLock { $0 }
                let received = try #require(lines.firstIndex(of: "received responseStarted"))
                let picture = try #require(lines.firstIndex(of: "emitted firstPicture"))
                #expect(received < picture, "\(lines)")
                for name in ["lookupFinished", "connectFinished", "requestSent"] {
                    #expect(try #require(lines.firstIndex(of: "received " + name)) < picture)
                }
                // The wait was the keyframe's: it shows in the report.
                let response = try #require(opened.report.hops.first?.responseStartMs)
                #expect(try #require(opened.report.summary.firstVideoFrameMs) - response > 300)
            }
        }

        /// The server stops sending (`stall_after`): a stall starts when a read has waited the threshold, and the
        /// read timeout ends the stream, last.
        @Test func aKeptStreamThatStallsSaysSoThenEnds() async throws {
            try await withOrigin { origin in
                var knobs = Preset.instant.knobs
                knobs.readTimeoutMs = 1500
                let stream = try await StreamOpener(knobs: knobs).open(
                    origin.url(.gop, behaviour: Behaviour(stallAfterBytes: 200_000))
                )
                let events = stream.events(stallAfter: .milliseconds(300))
                let reading = Task {
                    var packets = 0
                    do throws(StreamEnd) {
                        for try await _ in stream.packets() { packets += 1 }
                    } catch {}
                    return packets
                }
                var seen: [OpenEvent] = []
                for await event in events { seen.append(event) }
                let packets = await reading.value
                #expect(packets > 0)
                #expect(seen.map(\.kind.name) == ["stallStarted", "ended"], "\(seen)")
                let stall = try #require(seen.first)
                if case .stallStarted(let since) = stall.kind {
                    #expect(abs(stall.ms - since - 300) < 0.001)
                    #expect(since > (stream.report.summary.firstVideoFrameMs ?? 0))
                }
                if case .ended(let end) = seen.last?.kind {
                    #expect(end.reason == .stalled)
                    #expect(end == stream.end)
                }
                #expect(try #require(seen.last?.ms) > stall.ms)
                // A listener that comes after the end gets the end alone.
                var late: [OpenEvent] = []
                for await event in stream.events() { late.append(event) }
                #expect(late.map(\.kind.name) == ["ended"])
            }
        }

        /// A threshold below the gaps between a live stream's packets: stalls start and end in pairs, each end
        /// after its start, then closing the stream ends it.
        @Test func stallsStartAndEndInPairs() async throws {
            try await withOrigin { origin in
                let stream = try await StreamOpener(preset: .instant).open(origin.url(.live))
                let events = stream.events(stallAfter: .milliseconds(1))
                let reading = Task {
                    var video = 0
                    for try await packet in stream.packets() where packet.mediaKind == .video {
                        video += 1
                        if video == 50 { break }
                    }
                    stream.close()
                }
                var seen: [OpenEvent] = []
                for await event in events { seen.append(event) }
                try await reading.value
                let names = seen.map(\.kind.name)
                #expect(names.last == "ended")
                let stalls = names.dropLast()
                #expect(stalls.count >= 2)
                // started, ended, started, ended, …, and possibly a last start that the close ended.
                for (index, name) in stalls.enumerated() {
                    #expect(name == (index % 2 == 0 ? "stallStarted" : "stallEnded"), "\(names)")
                }
                for (start, end) in zip(seen, seen.dropFirst())
                where start.kind.name == "stallStarted" && end.kind.name == "stallEnded" {
                    guard case .stallStarted(let since) = start.kind, case .stallEnded(let duration) = end.kind else {
                        continue
                    }
                    #expect(end.ms >= start.ms)
                    #expect(abs(end.ms - since - duration) < 0.001)
                }
                if case .ended(let end) = seen.last?.kind { #expect(end.reason == .closed) }
            }
        }

        /// A recorder's events: the first open's, its stream's end when the edge drops it, then a reconnect at 0 ms
        /// of the next open, whose events follow on its own clock.
        @Test func aRecorderSaysWhenItReconnects() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("events-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            try await withOrigin { origin in
                let url = origin.url(.gop, behaviour: Behaviour(closeAfterMilliseconds: 1000))
                let recorder = try Recorder(
                    url: url,
                    path: directory.appendingPathComponent("room.ts").path,
                    configuration: .init(
                        reconnect: try ReconnectPolicy(initialDelay: 0.05, maximumDelay: 0.2, jitter: 0)
                    )
                )
                let events = recorder.events()
                let running = Task { await recorder.run() }
                var seen: [OpenEvent] = []
                for await event in events {
                    seen.append(event)
                    if event.kind.name == "firstPicture", seen.contains(where: { $0.kind.name == "reconnecting" }) {
                        recorder.stop()
                    }
                }
                _ = await running.value
                let names = seen.map(\.kind.name)
                let reconnect = try #require(seen.firstIndex { $0.kind.name == "reconnecting" })
                if case .reconnecting(let attempt, let waited) = seen[reconnect].kind {
                    #expect(attempt == 2)
                    #expect(waited >= 0)
                }
                #expect(seen[reconnect].ms == 0)
                // Before it: a whole open and its stream's end; after it: the next open from its start.
                Self.expectOrder(
                    Array(seen[..<reconnect]),
                    ["connectStarted", "responseStarted", "firstPicture", "ended"]
                )
                Self.expectOrder(Array(seen[reconnect...]), ["connectStarted", "responseStarted", "firstPicture"])
                let firstEnd = try #require(seen[..<reconnect].last)
                if case .ended(let end) = firstEnd.kind {
                    #expect(end.reason == .connectionDropped || end.reason == .endOfInput)
                }
                #expect(
                    try #require(seen[(reconnect + 1)...].first { $0.kind.name == "connectStarted" }).ms < firstEnd.ms
                )
                report("recorder events: \(names.joined(separator: ", "))")
            }
        }

        /// Events encode and decode as they are (JSON Lines logs of them).
        @Test func eventsRoundTripThroughJSON() throws {
            let events = [
                OpenEvent(
                    ms: 1.5,
                    hop: 0,
                    kind: .lookupFinished(host: "a.test", source: .cache, answers: ["127.0.0.1"], error: nil)
                ),
                OpenEvent(
                    ms: 2,
                    hop: 0,
                    kind: .connectFinished(address: "::1", port: 80, outcome: .failed, error: "Connection refused")
                ),
                OpenEvent(ms: 30, kind: .firstKeyframe(readMs: 30, arrivedMs: 12.5)),
                OpenEvent(ms: 31, kind: .openFailed(.init(stage: .decode, kind: .decoder, message: "no"))),
                OpenEvent(ms: 900, kind: .stallStarted(waitingSinceMs: 400)),
            ]
            let decoded = try JSONDecoder().decode([OpenEvent].self, from: JSONEncoder().encode(events))
            #expect(decoded == events)
        }
    }
}
