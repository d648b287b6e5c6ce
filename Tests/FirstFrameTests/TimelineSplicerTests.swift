@testable import FirstFrame
import Testing

/// The recorder's splicing rules on made-up timelines (25 fps video in FLV's milliseconds): what the origin cannot
/// produce — an edge that restarts each client at 0, a jump inside a connection.
@Suite struct TimelineSplicerRules {
    private let ms = Rational(1, 1000)
    private let second: UInt64 = 1_000_000_000

    /// Feeds video frames `from..<to` (ms, keyframe every `gop` ms) at wall time `now`; returns the output times (ms)
    /// of those written.
    private func feed(_ splicer: inout TimelineSplicer, from: Int64, to: Int64, gop: Int64 = 2000, now: UInt64) -> [Int64] {
        var written: [Int64] = []
        for dts in stride(from: from, to: to, by: 40) {
            if case .write(let shift) = splicer.decide(kind: .video, dts: dts, pts: dts, timeBase: ms,
                                                       isKeyframe: dts % gop == 0, now: now) {
                written.append(dts + shift)
            }
        }
        return written
    }

    @Test func theFileStartsAtZeroOnAKeyframeAndAudioWaitsForIt() {
        var splicer = TimelineSplicer()
        splicer.startConnection()
        #expect(splicer.decide(kind: .audio, dts: 3990, pts: 3990, timeBase: ms, isKeyframe: true, now: 0) == .waitingForKeyframe)
        // Joined mid-GOP: 3000…3960 are inter frames, the file starts at the keyframe at 4000.
        let written = feed(&splicer, from: 3000, to: 5000, now: second)
        #expect(written.first == 0 && written.count == 25)
        #expect(splicer.decide(kind: .audio, dts: 4010, pts: 4010, timeBase: ms, isKeyframe: true, now: second) == .write(shift: -4000))
    }

    @Test func aGopCacheResendIsDroppedAndTheTimelineContinuesSeamlessly() {
        var splicer = TimelineSplicer()
        splicer.startConnection()
        let first = feed(&splicer, from: 0, to: 5000, now: second)
        // The edge re-sends its GOP from the keyframe at 4000 ms: 4000…4960 were written already.
        splicer.startConnection()
        var duplicates = 0
        for dts in stride(from: Int64(4000), to: 5000, by: 40) {
            if splicer.decide(kind: .video, dts: dts, pts: dts, timeBase: ms, isKeyframe: dts % 2000 == 0, now: 2 * second) == .duplicate {
                duplicates += 1
            }
        }
        #expect(duplicates == 25)
        let second = feed(&splicer, from: 5000, to: 6000, now: 2 * self.second)
        #expect(splicer.sameClock == true)
        #expect(second.first == first.last! + 40, "the next frame continues without waiting for a keyframe")
    }

    @Test func anEdgeThatStartsEachClientAtZeroIsANewClock() {
        var splicer = TimelineSplicer()
        splicer.startConnection()
        let first = feed(&splicer, from: 0, to: 40_000, now: 40 * second)
        splicer.startConnection()
        let second = feed(&splicer, from: 0, to: 2000, now: 43 * self.second)
        #expect(splicer.sameClock == false)
        #expect(second.count == 50, "nothing of the new connection is taken for a duplicate")
        #expect(second.first! > first.last!)
        #expect(second.first! - first.last! >= 2900, "the timeline advances by the wall-clock gap (3 s)")
    }

    @Test func aJumpInsideAConnectionIsPlacedAgain() {
        var splicer = TimelineSplicer()
        splicer.startConnection()
        let before = feed(&splicer, from: 10_000, to: 20_000, now: second)
        // The publisher restarted behind a relay: the same connection goes on from 0.
        let after = feed(&splicer, from: 0, to: 4000, now: 2 * second)
        #expect(!after.isEmpty)
        #expect(after.first! > before.last!)
        #expect(zip(after, after.dropFirst()).allSatisfy { $0 < $1 })
    }
}
