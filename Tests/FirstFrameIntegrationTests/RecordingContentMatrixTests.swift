import FirstFrame
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

extension OriginTests {
    /// Drops early, mid and late in 1 s, 2 s and 4 s GOPs, from an edge with a GOP cache (`gop` join: the reconnect
    /// re-sends what the recorder wrote, which it must recognise by content) and without one (`live`, `waitkey=0`:
    /// what the reconnect misses is a logged gap), each recording checked by content against the origin's sent log
    /// (``ContentCheck``). All 18 cases run with `FIRSTFRAME_LONG_TESTS=1`; by default a representative few.
    @Suite struct RecordingContentMatrix {
        init() { FFmpegLog.level = .quiet }

        @Test(arguments: ContentDropCase.selected)
        func aRecordingAcrossADropHoldsWhatWasSent(_ drop: ContentDropCase) async throws {
            let media = MediaConfiguration(width: 320, height: 180, gopSeconds: drop.gopSeconds, loopSeconds: 12)
            try await withOrigin(OriginConfiguration(media: media, logsSentTags: true)) { origin in
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                    "matrix-\(UUID().uuidString)"
                )
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: directory) }
                let delay = drop.responseDelayMilliseconds
                let closeAfter = drop.closeAfterMilliseconds(nextKeyframe: origin.millisecondsToNextKeyframe)
                let behaviour = Behaviour(
                    responseDelayMilliseconds: delay,
                    waitForKeyframe: drop.join == .gop,
                    closeAfterMilliseconds: closeAfter
                )
                let recorder = try Recorder(
                    url: origin.url(drop.join, behaviour: behaviour),
                    path: directory.appendingPathComponent("room.flv").path,
                    configuration: .init(
                        reconnect: try ReconnectPolicy(initialDelay: 0.05, maximumDelay: 0.2, jitter: 0)
                    )
                )
                let running = Task { await recorder.run() }
                // Across the first drop: until the recorder has reconnected and written 100 packets more (1.5 s of
                // 25 frames and 43 AAC frames a second; a `live` rejoin's gap does not count).
                let reconnected = try await eventually(timeout: 20) { recorder.progress.reconnects >= 1 }
                let writtenBefore = recorder.progress.packetsWritten
                let recorded = try await eventually(timeout: 15) {
                    recorder.progress.packetsWritten >= writtenBefore + 100
                }
                recorder.stop()
                let summary = await running.value
                #expect(reconnected && recorded, "progress: \(recorder.progress)")
                #expect(summary.gaps.count >= 1)

                let tags = try #require(origin.sentTags())
                let truth = SentTag.truth(tags)
                let check = try ContentCheck.run(
                    paths: summary.files,
                    truth: truth,
                    sessionLog: recorder.sessionLogPath
                )
                let gop = drop.gopSeconds * 1000
                let phases = Self.connectionPhases(tags, truth: truth, gopMilliseconds: gop)
                report(
                    "recording (\(drop.testDescription); \(phases.text); \(summary.gaps.count) drop(s)) by content: \(check.figures); "
                        + "gaps: "
                        + check.gaps.map {
                            "\($0.fromSeconds)–\($0.toSeconds.map { "\($0)" } ?? "end") s, \($0.missing) missing"
                        }
                        .joined(separator: "; ")
                )

                // The case is what it says: the first drop came at its phase, give or take the open's latency and a
                // frame (the last tag sent before it).
                let dropped = try #require(phases.firstDrop.map { Double($0) }, "\(phases.text)")
                let off = abs(dropped - drop.phase.fraction * gop)
                #expect(min(off, gop - off) <= 0.25 * gop, "dropped \(dropped) ms into a \(gop) ms GOP")

                #expect(check.passed, "\(check.problems)")
                #expect(check.duplicated == 0, "\(check.problems)")
                #expect(check.missingUnlogged == 0, "\(check.problems)")
                #expect(check.gapsWithOtherBounds == 0, "\(check.gaps)")
                #expect(check.matched > 100, "\(check.figures)")
                if drop.join == .gop {
                    // The cache re-sends all the reconnect would miss: nothing sent is missing.
                    #expect(check.inGaps == 0, "\(check.gaps)")
                } else {
                    // The rejoin starts between keyframes: what it sends before the next one is not written, inside
                    // the logged gap, whose bounds are those packets'.
                    #expect(check.inGaps > 0, "\(check.gaps)")
                    #expect(check.gaps.contains { $0.missing > 0 && $0.boundsMatch == true }, "\(check.gaps)")
                }
            }
        }

        /// Where in its GOP each connection of the sent log ended (its last tag) and where the next one began (its
        /// first tag), on the channel's keyframe grid: `conn 1 dropped 1762 ms into a GOP (88 %); conn 2 began 87 ms
        /// into a GOP, stopped`; and the first drop's ms into its GOP.
        static func connectionPhases(
            _ tags: [SentTag],
            truth: [PacketDigest],
            gopMilliseconds: Double
        )
            -> (text: String, firstDrop: Int64?)
        {
            // Keyframes come every GOP on the channel's clock, sent or not.
            let gop = Int64(gopMilliseconds)
            let keyframe = truth.first { $0.kind == .video && $0.isKeyframe }?.milliseconds
            func intoGOP(_ time: Int64) -> Int64? { keyframe.map { ((time - $0) % gop + gop) % gop } }
            let connections = Set(tags.map(\.connection)).sorted()
            var parts: [String] = []
            var firstDrop: Int64?
            for (index, connection) in connections.enumerated() {
                let times = tags.filter { $0.connection == connection }.map(\.packet.milliseconds)
                guard let first = times.first, let last = times.last else { continue }
                var part = "conn \(index + 1)"
                if index > 0, let into = intoGOP(first) { part += " began \(into) ms into a GOP," }
                if index < connections.count - 1, let into = intoGOP(last) {
                    part += " dropped \(into) ms into a GOP (\(Int(Double(into) / gopMilliseconds * 100)) %)"
                    if index == 0 { firstDrop = into }
                } else {
                    part += " stopped"
                }
                parts.append(part)
            }
            return (parts.joined(separator: "; "), firstDrop)
        }
    }
}
