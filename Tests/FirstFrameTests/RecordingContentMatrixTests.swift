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
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("matrix-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: directory) }
                let delay = drop.responseDelayMilliseconds
                let closeAfter = drop.closeAfterMilliseconds(nextKeyframe: origin.millisecondsToNextKeyframe)
                let behaviour = Behaviour(responseDelayMilliseconds: delay, waitForKeyframe: drop.join == .gop,
                                          closeAfterMilliseconds: closeAfter)
                let recorder = try Recorder(
                    url: origin.url(drop.join, behaviour: behaviour), path: directory.appendingPathComponent("room.flv").path,
                    reconnect: ReconnectPolicy(initialDelay: 0.05, maximumDelay: 0.2, jitter: 0))
                let running = Task { await recorder.run() }
                // Across the first drop: until the recorder has reconnected and written 1.5 s more.
                let reconnected = try await eventually(timeout: 20) { recorder.progress.reconnects >= 1 }
                let resumedAt = recorder.progress.mediaSeconds
                let recorded = try await eventually(timeout: 15) { recorder.progress.mediaSeconds >= resumedAt + 1.5 }
                recorder.stop()
                let summary = await running.value
                #expect(reconnected && recorded, "progress: \(recorder.progress)")
                #expect(summary.gaps.count >= 1)

                let tags = try #require(origin.sentTags())
                let truth = SentTag.truth(tags)
                let check = try ContentCheck.run(paths: summary.files, truth: truth, sessionLog: recorder.sessionLogPath)
                let where_ = Self.dropPhases(tags, truth: truth, gopMilliseconds: drop.gopSeconds * 1000)
                report("recording (\(drop.testDescription); \(where_); \(summary.gaps.count) drop(s)) by content: \(check.figures); "
                    + "gaps: " + check.gaps.map { "\($0.fromSeconds)–\($0.toSeconds.map { "\($0)" } ?? "end") s, \($0.missing) missing" }
                    .joined(separator: "; "))

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
        /// first tag, for a `live` join), measured from the channel's keyframes: `conn 1 dropped 1840 ms into a
        /// GOP (92 %); conn 2 began 140 ms into a GOP`.
        static func dropPhases(_ tags: [SentTag], truth: [PacketDigest], gopMilliseconds: Double) -> String {
            let keyframes = truth.filter { $0.kind == .video && $0.isKeyframe }.map(\.milliseconds)
            func intoGOP(_ time: Int64) -> Int64? { keyframes.last { $0 <= time }.map { time - $0 } }
            let connections = Set(tags.map(\.connection)).sorted()
            var parts: [String] = []
            for (index, connection) in connections.enumerated() {
                let mine = tags.filter { $0.connection == connection }.map(\.packet.milliseconds)
                guard let first = mine.first, let last = mine.last else { continue }
                var part = "conn \(index + 1)"
                if index > 0, let into = intoGOP(first) { part += " began \(into) ms into a GOP," }
                if index < connections.count - 1, let into = intoGOP(last) {
                    part += " dropped \(into) ms into a GOP (\(Int(Double(into) / gopMilliseconds * 100)) %)"
                } else {
                    part += " stopped"
                }
                parts.append(part)
            }
            return parts.joined(separator: "; ")
        }
    }
}
