import FirstFrame
import FirstFrameRendering
import Foundation
import Testing

/// The advice for RTMP's command exchange on a 60 ms link against a server without `TCP_NODELAY` (nginx-rtmp):
/// the stalls it quotes lie inside the exchange (they used to be summed over the phases from the handshake's first
/// byte, more than the exchange itself), and the answers the server sent in pieces are named as its Nagle's round
/// trips, which no client setting removes.
@Suite struct RTMPAdviceTests {
    /// An RTMP hop's phases as the report gives them: each phase one request round trip, and the handshake,
    /// `connect` and `play` answers each in two pieces a round trip apart (the second held by the server).
    static let hopJSON = #"""
        {"url":"rtmp://edge.test/live/room","host":"edge.test","connects":[{"address":"127.0.0.2","port":1935,
          "startMs":0,"endMs":0,"outcome":"connected"}],"requestStartMs":0,"responseStartMs":60,"status":null,
         "rtmp":{"isComplete":true,"stalls":[],"phases":[
          {"name":"handshake","startMs":0,"endMs":125,"stalls":[
            {"startMs":0,"endMs":60,"awaiting":"server","after":"after sending C0+C1"},
            {"startMs":61,"endMs":125,"awaiting":"server","after":"after receiving part of S2","heldBackByServer":true}]},
          {"name":"connect","startMs":125,"endMs":250,"stalls":[
            {"startMs":125,"endMs":185,"awaiting":"server","after":"after sending connect"},
            {"startMs":186,"endMs":250,"awaiting":"server","after":"after receiving Window Acknowledgement Size",
             "heldBackByServer":true}]},
          {"name":"createStream","startMs":250,"endMs":312,"stalls":[
            {"startMs":250,"endMs":312,"awaiting":"server","after":"after sending createStream"}]},
          {"name":"play","startMs":312,"endMs":435,"stalls":[
            {"startMs":313,"endMs":373,"awaiting":"server","after":"after sending play"},
            {"startMs":374,"endMs":435,"awaiting":"server","after":"after receiving User Control Stream Begin",
             "heldBackByServer":true}]}]}}
        """#

    static func report(exchangeFrom start: Double) throws -> FirstFrameReport {
        var report = FirstFrameReport(url: "rtmp://edge.test/live/room", preset: "instant", knobs: Preset.instant.knobs)
        report.hops = [try JSONDecoder().decode(FirstFrameReport.Hop.self, from: Data(hopJSON.utf8))]
        report.outcome = .ok
        report.summary.firstVideoFrameMs = 1500
        report.causes = .init(
            spans: [
                .init(cause: .networkSetup, startMs: 0, endMs: start, hop: 0, stages: [.tcpConnect]),
                .init(cause: .protocolExchange, startMs: start, endMs: 435, hop: 0, stages: [.formatProbe]),
                .init(cause: .keyframeWait, startMs: 435, endMs: 1480, stages: [.streamInfo]),
                .init(cause: .decode, startMs: 1480, endMs: 1500, stages: [.decode]),
            ],
            keyframeArrival: .network,
            firstPictureMs: 1500
        )
        return report
    }

    @Test func theServersHeldAnswersAreNamedAsItsNagleRoundTrips() throws {
        let report = try Self.report(exchangeFrom: 0)
        let advice = try #require(AdviceRules.advice(for: report).first { $0.cause == .protocolExchange })
        #expect(advice.remedy == .rtmpExchange && advice.knobs.isEmpty)
        #expect(advice.message.contains("took 435 ms"), "\(advice.message)")
        #expect(advice.message.contains("3 more (189 ms)"), "\(advice.message)")
        #expect(advice.message.contains("server Nagle +3 round trips"), "\(advice.message)")
        let rtmp = try #require(report.hops.first?.rtmp)
        #expect(rtmp.serverHeldBackRoundTrips == 3)
        #expect(rtmp.phases.map(\.heldBack.count) == [1, 1, 0, 1])
        // The terminal waterfall says it per phase.
        let line = ReportRendering.waterfall(report).split(separator: "\n").first { $0.hasPrefix("rtmp: ") }
        #expect(
            line?.contains("connect 125.0 ms (2 stalls 124.0 ms; server Nagle +1 round trip)") == true,
            "\(line ?? "")"
        )
    }

    /// An exchange span that starts later than the phases (a report whose exchange began at the handshake's first
    /// answer): the stalls quoted are those inside it, never more than the exchange.
    @Test func stallsQuotedLieInsideTheExchange() throws {
        var report = try Self.report(exchangeFrom: 60)
        // Without held answers the message quotes the stalls.
        for index in report.hops[0].rtmp!.phases.indices {
            for stall in report.hops[0].rtmp!.phases[index].stalls.indices {
                report.hops[0].rtmp!.phases[index].stalls[stall].heldBackByServer = nil
            }
        }
        let advice = try #require(AdviceRules.advice(for: report).first { $0.cause == .protocolExchange })
        let numbers = advice.message.matches(of: /([0-9]+) ms/).map { Double($0.output.1)! }
        #expect(numbers.count == 2, "\(advice.message)")
        // 375 ms of exchange; the phases' stalls add up to 431 ms, 371 of them inside it.
        #expect(numbers == [375, 371], "\(advice.message)")
        #expect(numbers[1] <= numbers[0])
    }
}
