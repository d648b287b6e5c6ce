import FirstFrameFFmpeg
import Testing

@testable import FirstFrame

/// The recorder's splicing rules on made-up timelines (25 fps video in FLV's milliseconds): what the origin cannot
/// produce — an edge that restarts each client at 0, a jump inside a connection.
@Suite struct TimelineSplicerRules {
    private let ms = Rational(1, 1000)
    private let second: UInt64 = 1_000_000_000

    /// Feeds video frames `from..<to` (ms, keyframe every `gop` ms) at wall time `now`; returns the output times (ms)
    /// of those written. A frame's content (and so whether it is a keyframe) is its source time plus `content`.
    private func feed(
        _ splicer: inout TimelineSplicer,
        from: Int64,
        to: Int64,
        gop: Int64 = 2000,
        content: Int64 = 0,
        loop: Int64? = nil,
        now: UInt64
    ) -> [Int64] {
        var written: [Int64] = []
        for dts in stride(from: from, to: to, by: 40) {
            if case .write(let shift) = decide(
                &splicer,
                .video,
                dts,
                key: (dts + content) % gop == 0,
                content: content,
                loop: loop,
                now: now
            ) {
                written.append(dts + shift)
            }
        }
        return written
    }

    /// Counts the decisions over video frames `from..<to`.
    private func decisions(
        _ splicer: inout TimelineSplicer,
        from: Int64,
        to: Int64,
        gop: Int64 = 2000,
        content: Int64 = 0,
        now: UInt64
    ) -> [TimelineSplicer.Decision] {
        stride(from: from, to: to, by: 40).map { dts in
            decide(&splicer, .video, dts, key: (dts + content) % gop == 0, content: content, now: now)
        }
    }

    private func decide(
        _ splicer: inout TimelineSplicer,
        _ kind: StreamInfo.Kind,
        _ dts: Int64,
        key: Bool,
        content: Int64 = 0,
        loop: Int64? = nil,
        now: UInt64
    ) -> TimelineSplicer.Decision {
        let source = loop.map { (dts + content) % $0 } ?? dts + content
        let hash = UInt64(bitPattern: source) &* 0x9E37_79B9_7F4A_7C15 ^ (kind == .video ? 1 : 2)
        return splicer.decide(kind: kind, dts: dts, pts: dts, timeBase: ms, isKeyframe: key, content: hash, now: now)
    }

    @Test func theFileStartsAtZeroOnAKeyframeAndAudioWaitsForIt() {
        var splicer = TimelineSplicer()
        splicer.startConnection()
        #expect(decide(&splicer, .audio, 3990, key: true, now: 0) == .waitingForKeyframe)
        // Joined mid-GOP: 3000…3960 are inter frames, the file starts at the keyframe at 4000.
        let written = feed(&splicer, from: 3000, to: 5000, now: second)
        #expect(written.first == 0 && written.count == 25)
        #expect(decide(&splicer, .audio, 4010, key: true, now: second) == .write(shift: -4000))
    }

    @Test func aGopCacheResendIsDroppedAndTheTimelineContinuesSeamlessly() {
        var splicer = TimelineSplicer()
        splicer.startConnection()
        let first = feed(&splicer, from: 0, to: 5000, now: second)
        // The edge re-sends its GOP from the keyframe at 4000 ms: 4000…4960 were written already.
        splicer.startConnection()
        let duplicates = decisions(&splicer, from: 4000, to: 5000, now: 2 * second).filter { $0 == .duplicate }.count
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
        let second = feed(&splicer, from: 0, to: 2000, content: 100_000, now: 43 * self.second)
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
        let after = feed(&splicer, from: 0, to: 4000, content: 100_000, now: 2 * second)
        #expect(!after.isEmpty)
        #expect(after.first! > before.last!)
        #expect(zip(after, after.dropFirst()).allSatisfy { $0 < $1 })
    }

    /// The bug of 0.x: a drop more than a second after the last keyframe made the re-sent GOP look like a jump back,
    /// and it was written again with shifted timestamps.
    @Test(arguments: [Int64(1000), 2000, 4000])
    func aGopSentAgainLongAfterItsKeyframeIsDroppedByContent(gop: Int64) {
        var splicer = TimelineSplicer()
        splicer.startConnection()
        // The drop comes 90 % into a GOP: the edge re-sends all of it.
        let dropAt = 3 * gop + gop * 9 / 10 / 40 * 40
        let first = feed(&splicer, from: 0, to: dropAt, gop: gop, now: second)
        splicer.startConnection()
        let again = decisions(&splicer, from: 3 * gop, to: dropAt, gop: gop, now: 2 * second)
        #expect(again.allSatisfy { $0 == .duplicate }, "\(again.filter { $0 != .duplicate })")
        let next = feed(&splicer, from: dropAt, to: dropAt + 1000, gop: gop, now: 2 * second)
        #expect(next.first == first.last! + 40, "the next frame follows the last one written")
        #expect(splicer.sameClock == true)
        #expect(splicer.takeDiscontinuity() == nil)
    }

    /// An edge that stamps each client from 0 re-sends its GOP on the new clock: matched by content, dropped, and what
    /// follows continues the file without a hole.
    @Test func aGopSentAgainOnAnotherClockIsRecognisedAndTheFileContinues() {
        var splicer = TimelineSplicer()
        splicer.startConnection()
        let first = feed(&splicer, from: 0, to: 5600, now: second)
        splicer.startConnection()
        // The cached GOP 4000…5560 comes again as 0…1560 (content is what it was: source + 4000).
        let again = decisions(&splicer, from: 0, to: 1600, content: 4000, now: 2 * second)
        #expect(again.allSatisfy { $0 == .duplicate })
        let next = feed(&splicer, from: 1600, to: 2600, content: 4000, now: 2 * second)
        #expect(next.count == 25)
        #expect(next.first == first.last! + 40)
        #expect(splicer.sameClock == false)
    }

    /// Content that recurs (a looping program, a static picture) is not taken for a re-send when its timestamps say
    /// it is new: the same clock decides first.
    @Test func recurringContentOnTheSameClockIsWritten() {
        var splicer = TimelineSplicer()
        splicer.startConnection()
        // A 10 s loop: the frame at 14 000 has the content of the one at 4000.
        let first = feed(&splicer, from: 0, to: 13_960, loop: 10_000, now: second)
        splicer.startConnection()
        let next = feed(&splicer, from: 14_000, to: 16_000, loop: 10_000, now: 2 * second)
        #expect(next.count == 50, "every frame of the new GOP is written")
        #expect(next.first! > first.last!)
        #expect(splicer.sameClock == true)
    }

    /// Audio a new connection sends again before its first video is dropped as a duplicate, not written twice.
    @Test func audioSentAgainBeforeTheVideoIsADuplicate() {
        var splicer = TimelineSplicer()
        splicer.startConnection()
        _ = feed(&splicer, from: 0, to: 4000, now: second)
        for dts in stride(from: Int64(23), to: 4000, by: 23) {
            _ = decide(&splicer, .audio, dts, key: true, now: second)
        }
        splicer.startConnection()
        #expect(decide(&splicer, .audio, 2001, key: true, now: 2 * second) == .duplicate)
        #expect(decide(&splicer, .audio, 1978, key: true, content: 50_000, now: 2 * second) == .waitingForKeyframe)
    }

    /// FLV's 32-bit millisecond timestamps wrap after 49.7 days: the file goes on seamlessly, nothing is dropped, and
    /// the jump is reported.
    @Test func aTimestampWrapInsideAConnectionIsSplicedSeamlessly() {
        var splicer = TimelineSplicer()
        splicer.startConnection()
        let wrap: Int64 = 1 << 32
        let before = feed(&splicer, from: wrap - 4016, to: wrap, gop: 40, now: second)
        _ = splicer.takeDiscontinuity()
        // After the wrap: 0, 40, … (not a keyframe at first: nothing is missing, so nothing waits for one).
        let after = feed(&splicer, from: 0, to: 1000, gop: 2000, content: wrap, now: second)
        #expect(after.count == 25)
        #expect(after.first == before.last! + 40)
        #expect(splicer.takeDiscontinuity()?.kind == .clockJump)
    }

    /// Timestamps that jump hours ahead inside a connection are placed right after the last packet, not hours later.
    @Test func aForwardJumpOfHoursIsPlacedAfterTheLastPacket() {
        var splicer = TimelineSplicer()
        splicer.startConnection()
        let before = feed(&splicer, from: 0, to: 4000, now: second)
        let hours: Int64 = 5 * 3_600_000
        let after = feed(&splicer, from: hours, to: hours + 2000, content: 0, now: second)
        #expect(after.count == 50)
        #expect(after.first == before.last! + 40)
        let jump = splicer.takeDiscontinuity()
        #expect(jump?.kind == .clockJump)
        #expect(jump.map { $0.sourceStep > hours * 1000 - 10_000_000 } == true)
    }

    /// Video that skips three seconds on its own clock keeps its timestamps (the media is missing) and reports a hole.
    @Test func skippedFramesAreAHole() {
        var splicer = TimelineSplicer()
        splicer.startConnection()
        let before = feed(&splicer, from: 0, to: 4000, now: second)
        let after = feed(&splicer, from: 7000, to: 8000, gop: 1000, now: second)
        #expect(after.first == before.last! + 3040)
        let hole = splicer.takeDiscontinuity()
        #expect(hole?.kind == .hole)
        #expect(hole?.from == 3_960_000 && hole?.to == 7_000_000)
    }

    /// A new connection on the same clock without a GOP cache: the missed media is a gap, and the file's clock goes on.
    @Test func newMediaOnTheSameClockAfterADropLeavesAGap() {
        var splicer = TimelineSplicer()
        splicer.startConnection()
        _ = feed(&splicer, from: 0, to: 4000, now: second)
        splicer.startConnection()
        // Joins mid-GOP: inter frames wait for the keyframe at 6000.
        let next = feed(&splicer, from: 5000, to: 7000, now: 3 * second)
        #expect(next.first == 6000)
        #expect(splicer.sameClock == true)
    }

    /// A server restarted mid-GOP on a new clock re-sends inter frames first: three matches in a row place the clock,
    /// and the frames after them continue the file at once (their references are written).
    @Test func interFramesSentAgainOnAnotherClockPlaceTheConnection() {
        var splicer = TimelineSplicer()
        splicer.startConnection()
        let first = feed(&splicer, from: 0, to: 5000, now: second)
        splicer.startConnection()
        // 4400…4960 again as 0…560 (no keyframe among them), then new frames 600… (= 5000… on the old clock).
        let again = decisions(&splicer, from: 0, to: 600, content: 4400, now: 2 * second)
        #expect(again.allSatisfy { $0 == .duplicate })
        let next = feed(&splicer, from: 600, to: 1000, content: 4400, now: 2 * second)
        #expect(next.count == 10, "nothing waits for the next keyframe")
        #expect(next.first == first.last! + 40)
    }

    /// A source that loops every 10 s, restarted on a new clock just after a keyframe the recorder never got: the
    /// keyframe's content was written a loop earlier, outside the window a re-send can come from, so it is new media
    /// on a new clock — not a re-send that would put the file ten seconds back.
    @Test func aMatchFromALoopEarlierIsNotARestartsReSend() {
        var splicer = TimelineSplicer()
        splicer.startConnection()
        let first = feed(&splicer, from: 0, to: 13_960, loop: 10_000, now: second)
        splicer.startConnection()
        // The new clock starts at 0 with the frame of source 14 000 (= loop content 4000, written at 4000).
        let next = feed(&splicer, from: 0, to: 2000, content: 14_000, loop: 10_000, now: 2 * second)
        #expect(next.count == 50, "every frame of the restarted source is written")
        #expect(next.first! > first.last!)
    }

    /// A slate (every keyframe alike) whose clock resets inside the connection: the reset is a jump, though the
    /// keyframe's content was written a GOP ago.
    @Test func aClockResetOfRepeatingContentIsAJump() {
        var splicer = TimelineSplicer()
        splicer.startConnection()
        // The encoder had run for 100 s when the recording began; its clock restarts at 0.
        let before = feed(&splicer, from: 100_000, to: 120_000, loop: 2000, now: second)
        _ = splicer.takeDiscontinuity()
        let after = feed(&splicer, from: 0, to: 2000, loop: 2000, now: second)
        #expect(after.count == 50)
        #expect(after.first == before.last! + 40)
        #expect(splicer.takeDiscontinuity()?.kind == .clockJump)
    }
}
