import FirstFrame
import FirstFrameRendering
import FirstFrameTestSupport
import Foundation
import Testing

@Suite struct ReportShapes {
    private func report(firstPicture: Double?, stages: [(Stage, Double)]) -> FirstFrameReport {
        var report = FirstFrameReport(url: "http://a.test/x.flv", preset: "instant", knobs: Preset.instant.knobs)
        var cursor = 0.0
        for (stage, duration) in stages {
            report.stages.append(.init(name: stage, startMs: cursor, endMs: cursor + duration))
            report.summary[stage] += duration
            cursor += duration
        }
        report.summary.firstVideoFrameMs = firstPicture
        report.outcome = firstPicture == nil ? .failed : .ok
        return report
    }

    @Test func jsonFollowsSchemaTwoWithNullsForWhatWasNotReached() throws {
        var failed = report(firstPicture: nil, stages: [(.dns, 5)])
        failed.error = .init(stage: .dns, kind: .dns, message: "a.test: Name or service not known")
        let json = try ReportRendering.jsonLine(failed)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["schema"] as? Int == 2)
        #expect(object["causes"] is NSNull && (object["advice"] as? [Any])?.isEmpty == true)
        #expect(object["outcome"] as? String == "failed")
        let summary = try #require(object["summary"] as? [String: Any])
        #expect(summary["firstVideoFrameMs"] is NSNull)
        #expect(summary["dnsMs"] as? Double == 5 && summary["tlsMs"] as? Double == 0)
        let milestones = try #require(object["milestones"] as? [String: Any])
        #expect(
            milestones.keys.sorted() == ["firstAudioFrameMs", "firstByteMs", "firstKeyframeMs", "firstVideoFrameMs"]
        )
        #expect((object["error"] as? [String: Any])?["stage"] as? String == "dns")
        let ok = try ReportRendering.jsonLine(report(firstPicture: 10, stages: [(.dns, 4), (.decode, 6)]))
        #expect(ok.contains("\"error\":null"))
        #expect(!json.contains("\n"))
        // A report decodes from its own JSON.
        #expect(
            try JSONDecoder().decode(FirstFrameReport.self, from: Data(ok.utf8))
                == report(firstPicture: 10, stages: [(.dns, 4), (.decode, 6)])
        )
    }

    /// A report written by schema 1 (no causes, no advice, hops without `reusedConnection`, knobs without
    /// `tcpNoDelay`) still decodes, with what it lacks at its defaults.
    @Test func aSchemaOneReportStillDecodes() throws {
        let json = #"""
            {"schema":1,"url":"http://a.test/x.flv","preset":"instant","knobs":{"fpsprobesize":0,"skipStreamInfo":true},
             "outcome":"ok","error":null,
             "summary":{"dnsMs":1,"tcpConnectMs":1,"tlsMs":0,"httpResponseMs":1,"formatProbeMs":1,"streamInfoMs":1,
                        "bufferingMs":0,"decodeMs":2,"firstVideoFrameMs":7},
             "milestones":{"firstByteMs":3,"firstKeyframeMs":4,"firstVideoFrameMs":7,"firstAudioFrameMs":null},
             "stages":[{"name":"dns","startMs":0,"endMs":7,"bytes":0,"packets":0}],
             "hops":[{"url":"http://a.test/x.flv","host":"a.test","connects":[{"address":"127.0.0.1","port":80,"startMs":1,
                      "endMs":2,"outcome":"connected"}],"requestStartMs":2,"responseStartMs":3,"status":200}],
             "streams":[],"tlsPeerVerified":null}
            """#
        let decoded = try JSONDecoder().decode(FirstFrameReport.self, from: Data(json.utf8))
        #expect(decoded.schema == 1 && decoded.causes == nil && decoded.advice.isEmpty)
        #expect(decoded.hops.first?.reusedConnection == false && decoded.hops.first?.status == 200)
        #expect(
            decoded.knobs.fpsprobesize == 0 && decoded.knobs.tcpNoDelay == false
                && decoded.knobs.maxRequests == TuningKnobs().maxRequests
        )
    }

    @Test func waterfallShowsEveryStageWithItsTime() {
        let text = ReportRendering.waterfall(
            report(firstPicture: 30, stages: [(.dns, 10), (.httpResponse, 5), (.decode, 15)])
        )
        #expect(text.contains("first picture 30.0 ms"))
        for name in ["dns", "httpResponse", "decode"] { #expect(text.contains(name)) }
        #expect(text.contains("15.0 ms"))
    }

    @Test func waterfallShowsCausesAndAdviceUnderTheStages() {
        var opened = report(firstPicture: 1000, stages: [(.dns, 10), (.streamInfo, 985), (.decode, 5)])
        opened.causes = .init(
            spans: [
                .init(cause: .networkSetup, startMs: 0, endMs: 10, hop: 0, stages: [.dns]),
                .init(cause: .keyframeWait, startMs: 10, endMs: 995, stages: [.streamInfo]),
                .init(cause: .decode, startMs: 995, endMs: 1000, stages: [.decode]),
            ],
            keyframeArrival: .network,
            firstPictureMs: 1000
        )
        opened.advice = AdviceRules.advice(for: opened)
        let text = ReportRendering.waterfall(opened)
        #expect(text.contains("why (keyframe arrival from the network):"))
        #expect(text.contains("keyframeWait") && text.contains("985.0 ms  in streamInfo"))
        #expect(text.contains("client-attributable 5.0 ms"))
        #expect(opened.advice.map(\.remedy) == [.gopCache])
        #expect(text.contains("→ waited 985 ms for the edge's next keyframe"))
    }

    @Test func aggregateTakesNearestRankPercentilesOfSuccessfulOpens() {
        let reports =
            (1...20).map { report(firstPicture: Double($0), stages: [(.decode, Double($0))]) }
            + [report(firstPicture: nil, stages: [(.dns, 1000)])]
        let aggregate = ReportAggregate(reports)
        #expect(aggregate.opens == 21 && aggregate.failures == 1)
        #expect(aggregate.firstVideoFrame?.p50 == 10)
        #expect(aggregate.firstVideoFrame?.p95 == 19)
        #expect(aggregate.firstVideoFrame?.max == 20)
        #expect(aggregate.stages[.dns]?.max == 0, "failed opens are left out")
        #expect(aggregate.render().contains("first picture"))
    }
}
