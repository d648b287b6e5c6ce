import FirstFrame
import FirstFrameFFmpeg
import FirstFrameNetwork
import FirstFrameTestSupport
import Foundation
import Testing

/// FFmpeg's stock RTMP open against nginx-rtmp, read in RTMP's own terms: where the time between the handshake and
/// the first keyframe goes (the command round trips and the stalls inside them), with and without `tcp_nodelay`.
@Suite(
    .serialized,
    .enabled(if: NginxRTMPServer.isAvailable, "\(NginxRTMPServer.unavailableReason ?? "")"),
    .enabled(if: NetworkTrace.isAvailable, "the hooks interpose libc only on Linux, without sanitizers")
)
struct RTMPPhaseTests {
    init() { FFmpegLog.level = .quiet }

    /// One stock open: `avformat_open_input`, `avformat_find_stream_info`, then packets up to the first video
    /// keyframe, all on one traced thread.
    struct Open: Sendable {
        var trace: NetworkTrace
        var start: UInt64
        var opened: UInt64
        var keyframeHandedOut: UInt64
        var unconsumedOptions: [String]
    }

    static func open(_ url: String, options: KeyValuePairs<String, String> = [:]) async throws -> Open {
        let pairs = options.map { ($0.key, $0.value) }
        return try await blocking {
            let start = MonotonicClock.nanoseconds()
            let (result, trace) = try NetworkTrace.capture(captureBytesPerTurn: 262_144) {
                () throws -> (opened: UInt64, keyframe: UInt64, unconsumed: [String]) in
                let dictionary: FFmpegOptions? = pairs.isEmpty ? nil : FFmpegOptions()
                for (key, value) in pairs { dictionary?.set(key, value) }
                let input = try InputFormatContext(
                    url: url,
                    options: dictionary,
                    interrupter: Interrupter(timeout: .seconds(20))
                )
                let opened = MonotonicClock.nanoseconds()
                try input.findStreamInfo()
                guard let video = input.bestStream(.video) else {
                    throw MediaFixtures.Failure(description: "no video stream")
                }
                let packet = Packet()
                while try input.read(into: packet) {
                    if packet.streamIndex == video, packet.isKeyframe {
                        return (opened, MonotonicClock.nanoseconds(), dictionary?.unconsumedKeys ?? [])
                    }
                }
                throw MediaFixtures.Failure(description: "the stream ended before a video keyframe")
            }
            return Open(
                trace: trace,
                start: start,
                opened: result.opened,
                keyframeHandedOut: result.keyframe,
                unconsumedOptions: result.unconsumed
            )
        }
    }

    /// Checks the exchange of one open and prints its phases and stalls; returns the exchange.
    @discardableResult
    static func check(_ open: Open, label: String) throws -> RTMPExchange {
        let hop = try #require(open.trace.hops.first { $0.kind == .rtmp }, "no RTMP hop in the trace")
        let fd = try #require(hop.establishedConnect?.fd)
        let exchange = try #require(RTMPExchange.analyse(events: open.trace.events, fd: fd))
        #expect(exchange == open.trace.rtmpExchange(of: hop))

        func ms(_ time: UInt64?) -> String {
            time.map { String(format: "%.1f", Double(Int64(bitPattern: $0 &- open.start)) / 1e6) } ?? "-"
        }
        func span(_ nanoseconds: UInt64) -> String { String(format: "%.1f ms", Double(nanoseconds) / 1e6) }
        report(
            "RTMP \(label): avformat_open_input \(ms(open.opened)) ms, first keyframe packet \(ms(open.keyframeHandedOut)) ms"
        )
        for phase in exchange.phases {
            let stalls = phase.stalls.map { "\(span($0.duration)) \($0.awaited.rawValue) \($0.after)" }
            report(
                "RTMP \(label):   \(phase.name.rawValue) \(ms(phase.start))→\(ms(phase.end)) ms = "
                    + "\(phase.duration.map(span) ?? "-") (\(phase.sends) sends, \(phase.receives) receives; "
                    + "ended by \(phase.endedBy ?? "-")); stalls \(span(phase.stallTime))"
                    + (stalls.isEmpty ? "" : ": " + stalls.joined(separator: "; "))
            )
        }
        // The sizes of the client's writes from `connect` to Play.Start: how FFmpeg cuts its commands up.
        if let first = exchange.phase(.connect)?.start, let last = exchange.phase(.play)?.end {
            let writes = open.trace.events.filter {
                $0.fd == fd && $0.kind == .send && $0.time >= first && $0.time <= last
            }
            report(
                "RTMP \(label):   client writes connect→Play.Start: \(writes.map { String($0.result) }.joined(separator: " "))"
            )
        }
        // What avformat_open_input still read after Play.Start before it returned (its format probe).
        if let playEnd = exchange.phase(.play)?.end {
            let reads = open.trace.events.filter {
                $0.fd == fd && $0.kind == .receive && $0.result > 0 && $0.time > playEnd && $0.time <= open.opened
            }
            report(
                "RTMP \(label):   after Play.Start, avformat_open_input read \(reads.reduce(0) { $0 + $1.result }) bytes "
                    + "in \(reads.count) receives before returning \(span(open.opened - playEnd)) later"
            )
        }
        let outside = exchange.stalls.filter { $0.phase == nil }
        report(
            "RTMP \(label):   first media byte \(ms(exchange.firstMediaByte)) ms, first audio \(ms(exchange.firstAudioMessage)) ms, "
                + "first video \(ms(exchange.firstVideoMessage)) ms, first keyframe \(ms(exchange.firstKeyframeStart))→"
                + "\(ms(exchange.firstKeyframeEnd)) ms; server chunk size \(exchange.serverChunkSize); "
                + "messages sent \(exchange.messages.sent), received \(exchange.messages.received) "
                + "(\(exchange.messages.audio) audio, \(exchange.messages.video) video); status \(exchange.statusCodes)"
        )
        report(
            "RTMP \(label):   stalls in phases \(span(exchange.phases.reduce(0) { $0 + $1.stallTime })), "
                + "outside \(span(outside.reduce(0) { $0 + $1.duration })): "
                + outside.map { "\(span($0.duration)) \($0.awaited.rawValue) \($0.after)" }.joined(separator: "; ")
        )

        #expect(exchange.isComplete, "\(String(describing: exchange.incompleteReason))")
        #expect(exchange.phases.map(\.name) == [.handshake, .connect, .createStream, .play])
        for (earlier, later) in zip(exchange.phases, exchange.phases.dropFirst()) {
            #expect(try #require(earlier.end) <= later.start, "\(earlier.name) overlaps \(later.name)")
        }
        for phase in exchange.phases {
            let end = try #require(phase.end, "\(phase.name) never ended")
            #expect(end > phase.start, "\(phase.name) ends before it starts")
        }
        #expect(exchange.phase(.play)?.endedBy == "onStatus NetStream.Play.Start")
        let playEnd = try #require(exchange.phase(.play)?.end)
        let firstMedia = try #require(exchange.firstMediaByte)
        let keyframeStart = try #require(exchange.firstKeyframeStart)
        let keyframeEnd = try #require(exchange.firstKeyframeEnd)
        #expect(playEnd <= firstMedia)
        #expect(firstMedia <= keyframeStart)
        #expect(keyframeStart <= keyframeEnd)
        // The packet cannot leave FFmpeg before its last byte came off the socket.
        #expect(keyframeEnd <= open.keyframeHandedOut)
        #expect(exchange.stalls.allSatisfy { $0.duration >= RTMPExchange.stallThreshold })
        #expect(exchange.stallTime == exchange.stalls.reduce(0) { $0 + $1.duration })
        #expect(exchange.serverChunkSize == 4096, "nginx-rtmp's default out chunk size")
        // A generous sanity bound, not a timing assertion: on loopback the commands take well under 2 s.
        #expect(playEnd - exchange.phases[0].start < 2_000_000_000)
        return exchange
    }

    /// The fixture's HLS side: nginx writes the playlist from the same publisher and serves it over HTTP.
    @Test func fixtureServesHLS() async throws {
        let server = try NginxRTMPServer(hls: true)
        defer { server.stop() }
        let url = try #require(server.hlsURL)
        let streams = try await blocking { try MediaProbe.streams(url) }
        #expect(Set(streams.map(\.codec_type)) == ["video", "audio"], "\(server.errorLog)")
    }

    @Test func stockOpenPhasesAndStalls() async throws {
        let server = try NginxRTMPServer()
        defer { server.stop() }
        var stock: [RTMPExchange] = []
        var noDelay: [RTMPExchange] = []
        // Alternated, so both variants see the same server state; three each to show the spread.
        for round in 1...3 {
            stock.append(try Self.check(try await Self.open(server.url), label: "stock #\(round)"))
            let open = try await Self.open(server.url, options: ["tcp_nodelay": "1"])
            // FFmpeg takes the option only if some layer (tcp, under rtmp) consumed it.
            #expect(!open.unconsumedOptions.contains("tcp_nodelay"), "tcp_nodelay did not reach the TCP layer")
            noDelay.append(try Self.check(open, label: "tcp_nodelay #\(round)"))
        }
        func commands(_ exchange: RTMPExchange) -> Double {
            let first = exchange.phase(.connect)!.start
            let last = exchange.phase(.play)!.end!
            return Double(last - first) / 1e6
        }
        func stalled(_ exchange: RTMPExchange) -> Double {
            Double(exchange.phases.reduce(0) { $0 + $1.stallTime }) / 1e6
        }
        report(
            "RTMP: connect→Play.Start stock \(stock.map(commands).map { String(format: "%.1f", $0) }) ms, "
                + "tcp_nodelay \(noDelay.map(commands).map { String(format: "%.1f", $0) }) ms"
        )
        report(
            "RTMP: stalls inside phases stock \(stock.map(stalled).map { String(format: "%.1f", $0) }) ms, "
                + "tcp_nodelay \(noDelay.map(stalled).map { String(format: "%.1f", $0) }) ms"
        )
    }
}
