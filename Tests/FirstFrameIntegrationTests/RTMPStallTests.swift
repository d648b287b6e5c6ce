import FirstFrame
import FirstFrameRendering
import FirstFrameTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
import FirstFrameNetwork
import FirstFrameFFmpeg
#endif

/// RTMP without stalls (issue #13): against nginx-rtmp on loopback, stock FFmpeg's command exchange waits ~40 ms
/// several times — its own commands held by Nagle until nginx's delayed ACK, and nginx's small writes held by
/// nginx's Nagle until FFmpeg's delayed ACK. `tcp_nodelay` removes the first kind, `quickAck` (the hooks re-arming
/// `TCP_QUICKACK` after every receive of the open) the second; `instant` sets both.
@Suite(
    .serialized,
    .enabled(if: NetworkTrace.isAvailable, "the hooks interpose libc only on Linux, without sanitizers")
)
struct RTMPStallTests {
    init() { FFmpegLog.level = .quiet }

    /// Delayed ACKs on Linux wait at least 40 ms (`TCP_DELACK_MIN`); a pause of 30 ms or more inside the command
    /// exchange on loopback is one of them (or a machine too busy to measure on).
    static let delayedACKStall = 30.0

    /// What a report says about its RTMP exchange, in milliseconds from the end of its connect.
    struct Exchange {
        var playStartMs: Double
        var firstMediaMs: Double
        /// The stalls inside the phases (handshake to Play.Start), with their phase's name.
        var stalls: [(phase: String, stall: FirstFrameReport.RTMPTimeline.Stall)]

        init(_ report: FirstFrameReport) throws {
            #expect(report.outcome == .ok, "\(report.error?.message ?? "")")
            let hop = try #require(report.hops.first { $0.rtmp != nil }, "no RTMP hop in the report")
            let rtmp = try #require(hop.rtmp)
            let connected = try #require(hop.connects.first { $0.outcome == .connected }?.endMs)
            #expect(rtmp.isComplete)
            #expect(rtmp.phases.map(\.name) == ["handshake", "connect", "createStream", "play"])
            playStartMs = try #require(rtmp.phases.last?.endMs) - connected
            firstMediaMs = try #require(rtmp.firstMediaByteMs) - connected
            stalls = rtmp.phases.flatMap { phase in phase.stalls.map { (phase.name, $0) } }
        }

        /// Pauses as long as a delayed ACK's.
        var longStalls: [(phase: String, stall: FirstFrameReport.RTMPTimeline.Stall)] {
            stalls.filter { $0.stall.durationMs >= RTMPStallTests.delayedACKStall }
        }

        var line: String {
            String(
                format: "Play.Start %.1f ms, first media %.1f ms after the connect; stalls: ",
                playStartMs,
                firstMediaMs
            )
                + (stalls.isEmpty
                    ? "none"
                    : stalls.map {
                        String(
                            format: "%@ %.1f ms %@ %@",
                            $0.phase,
                            $0.stall.durationMs,
                            $0.stall.awaiting,
                            $0.stall.after
                        )
                    }
                    .joined(separator: "; "))
        }
    }

    /// Stock FFmpeg against `instant`, alternated: the stock report names every stall in its phases (and the advice
    /// names both knobs), `instant` has no stall a delayed ACK could make, its exchange is a fraction of stock's,
    /// and its first media message comes within 50 ms of the connect.
    @Test(.enabled(if: NginxRTMPServer.isAvailable, "\(NginxRTMPServer.unavailableReason ?? "")"))
    func instantHasNoDelayedACKStallsWhereStockNamesItsOwn() async throws {
        let server = try NginxRTMPServer(streamName: "stalls")
        defer { server.stop() }
        var stock: [FirstFrameReport] = []
        var instant: [FirstFrameReport] = []
        for _ in 1...3 {
            stock.append(await StreamOpener(preset: .ffmpeg).report(opening: server.url))
            instant.append(await StreamOpener(preset: .instant).report(opening: server.url))
        }
        let stockExchanges = try stock.map(Exchange.init)
        let instantExchanges = try instant.map(Exchange.init)
        for (index, exchange) in stockExchanges.enumerated() {
            report("nginx-rtmp stock #\(index + 1): \(exchange.line)")
        }
        for (index, exchange) in instantExchanges.enumerated() {
            report("nginx-rtmp instant #\(index + 1): \(exchange.line)")
        }

        // Stock: the stalls are there, each inside a named command phase, and the report's text says so.
        for (report, exchange) in zip(stock, stockExchanges) {
            #expect(!exchange.longStalls.isEmpty, "stock FFmpeg against nginx-rtmp stalls in its exchange")
            #expect(exchange.stalls.allSatisfy { ["handshake", "connect", "createStream", "play"].contains($0.phase) })
            #expect(
                exchange.stalls.allSatisfy {
                    !$0.stall.after.isEmpty && ["server", "client"].contains($0.stall.awaiting)
                }
            )
            let rtmpLine = ReportRendering.waterfall(report).split(separator: "\n").first { $0.hasPrefix("rtmp: ") }
            for phase in Set(exchange.stalls.map(\.phase)) {
                #expect(
                    rtmpLine?.contains(try Regex("\(phase) [0-9.]+ ms \\([0-9]+ stalls? ")) == true,
                    "\(rtmpLine ?? "no rtmp line")"
                )
            }
            let advice = report.advice.first { $0.cause == .protocolExchange }
            #expect(advice?.knobs == ["tcp_nodelay=true", "quickAck=true"], "\(advice?.message ?? "no advice")")
        }

        // Instant: no delayed-ACK pause in any phase, and no advice left for the exchange.
        for (report, exchange) in zip(instant, instantExchanges) {
            #expect(exchange.longStalls.isEmpty, "\(exchange.line)")
            #expect(!report.advice.contains { $0.cause == .protocolExchange })
        }
        // The exchange without its stalls is a loopback exchange: well under half of stock's, even stock's best.
        let stockBest = try #require(stockExchanges.map(\.playStartMs).min())
        #expect(instantExchanges.allSatisfy { $0.playStartMs < stockBest / 2 }, "stock's best \(stockBest) ms")
        // The issue's aim. The first media message is the publisher's next packet after Play.Start (nginx has no
        // GOP cache), so it carries up to a packet interval of the stream's pace: asked of the median open.
        let firstMedia = instantExchanges.map(\.firstMediaMs).sorted()
        #expect(firstMedia[firstMedia.count / 2] <= 50, "\(firstMedia)")
    }

    /// `quickAck` alone, on top of `tcp_nodelay` (both `instant`'s): without it nginx's small writes wait for this
    /// client's delayed ACK ("after receiving Window Acknowledgement Size"); with it they do not. The first half
    /// shows the stall exists here at all, so that its absence in the second half means something.
    @Test(.enabled(if: NginxRTMPServer.isAvailable, "\(NginxRTMPServer.unavailableReason ?? "")"))
    func quickAckTakesTheServersDelayedACKStallsAway() async throws {
        let server = try NginxRTMPServer(streamName: "quickack")
        defer { server.stop() }
        var withoutKnobs = Preset.instant.knobs
        withoutKnobs.quickAck = false
        let noQuickAck = try StreamOpener(knobs: withoutKnobs, presetName: "instant+")
        var without: [Exchange] = []
        var with: [Exchange] = []
        for _ in 1...3 {
            without.append(try Exchange(await noQuickAck.report(opening: server.url)))
            with.append(try Exchange(await StreamOpener(preset: .instant).report(opening: server.url)))
        }
        for (index, exchange) in without.enumerated() {
            report("nginx-rtmp instant, quickAck=false #\(index + 1): \(exchange.line)")
        }
        for (index, exchange) in with.enumerated() { report("nginx-rtmp instant #\(index + 1): \(exchange.line)") }
        // The server's Nagle waiting for our delayed ACK: the connection waits on the server, after receiving.
        func serverWaits(_ exchange: Exchange) -> Int {
            exchange.longStalls.count { $0.stall.awaiting == "server" && $0.stall.after.hasPrefix("after receiving") }
        }
        #expect(
            without.allSatisfy { serverWaits($0) > 0 },
            "nginx's small writes wait for a delayed ACK without quickAck"
        )
        #expect(with.allSatisfy { serverWaits($0) == 0 })
    }

    /// The hook itself, on a loopback connection: a socket the kernel has put in delayed-ACK ("pingpong") mode
    /// leaves it at a traced receive with quickAck, and not at one without.
    @Test func aTracedReceiveWithQuickAckReArmsIt() async throws {
        try await blocking {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(listener) }
            let port = try LoopbackSocket.bind(listener)
            #expect(listen(listener, 1) == 0)
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(client) }
            try #require(LoopbackSocket.connect(client, port: port) == 0)
            let server = accept(listener, nil, nil)
            defer { close(server) }
            try #require(server >= 0)

            /// Getting TCP_QUICKACK reads whether the socket is out of pingpong mode.
            func quickAckMode() -> Int32 {
                var value: Int32 = -1
                var length = socklen_t(MemoryLayout<Int32>.size)
                _ = getsockopt(client, Int32(IPPROTO_TCP), TCP_QUICKACK, &value, &length)
                return value
            }
            var byte: UInt8 = 0
            func serverSends() { #expect(send(server, &byte, 1, 0) == 1) }
            func clientReceives() { #expect(recv(client, &byte, 1, 0) == 1) }
            /// The client answers at once what it received, and the server takes the answer: the kernel counts the
            /// connection as interactive and delays its ACKs to piggyback them on the answers.
            func clientAnswers() {
                #expect(send(client, &byte, 1, 0) == 1)
                #expect(recv(server, &byte, 1, 0) == 1)
            }
            for _ in 0..<4 {
                serverSends()
                clientReceives()
                clientAnswers()
            }
            try #require(
                quickAckMode() == 0,
                "the kernel did not take the connection for interactive: nothing to re-arm"
            )

            serverSends()
            _ = NetworkTrace.capture { clientReceives() }
            #expect(quickAckMode() == 0, "a traced receive without quickAck leaves the socket alone")
            clientAnswers()

            serverSends()
            let (_, trace) = NetworkTrace.capture(quickAck: true) { clientReceives() }
            #expect(quickAckMode() == 1, "a traced receive with quickAck re-arms quick ACKs")
            #expect(
                trace.events.contains { $0.kind == .receive && $0.fd == client && $0.result == 1 },
                "and is traced as before"
            )
        }
    }
}
