import CFFmpeg
import FirstFrameFFmpeg
import FirstFrameTestSupport
import Foundation
import Testing

@testable import FirstFrame

/// The content check's core on made-up packet lists (a looping source, as the origin's), and once on a file remuxed
/// with faults planted in it.
@Suite struct ContentCheckTests {
    /// A source that loops every `loop` ms: video every 40 ms (a keyframe every 25), audio every 23 ms, the same
    /// payloads every pass, as the origin's synthetic channel.
    private func looping(passes: Int, loop: Int64 = 2000) -> [PacketDigest] {
        var packets: [PacketDigest] = []
        for pass in 0..<Int64(passes) {
            for frame in 0..<Int64(loop / 40) {
                packets.append(
                    PacketDigest(
                        kind: .video,
                        milliseconds: pass * loop + frame * 40,
                        isKeyframe: frame % 25 == 0,
                        size: 1000 + Int(frame),
                        hash: UInt64(0x1000 + frame)
                    )
                )
            }
            for frame in 0..<Int64(loop / 23) {
                packets.append(
                    PacketDigest(
                        kind: .audio,
                        milliseconds: pass * loop + frame * 23,
                        isKeyframe: true,
                        size: 200,
                        hash: UInt64(0x9000 + frame)
                    )
                )
            }
        }
        return packets.sorted { $0.milliseconds < $1.milliseconds }
    }

    /// The packets in file order and time: `packets` moved by `shift` ms.
    private func file(_ packets: [PacketDigest], shift: Int64) -> [PacketDigest] {
        packets.map {
            var moved = $0
            moved.milliseconds += shift
            return moved
        }
    }

    private func gap(from: Double, to: Double?) -> RecordingGap {
        RecordingGap(
            kind: .reconnect,
            afterAttempt: 1,
            end: StreamEnd(
                reason: .connectionDropped,
                message: "dropped",
                packets: 0,
                bytesRead: 0,
                discardedBytes: 0,
                secondsSinceFirstPicture: 0,
                secondsSinceLastPacket: 0
            ),
            fromSeconds: from,
            toSeconds: to,
            duplicatesDropped: 0,
            droppedUntilKeyframe: 0
        )
    }

    @Test func aWholeRecordingOfALoopingSourceMatchesEveryPacketOnce() {
        let truth = looping(passes: 3)
        // The recording starts at 0 in its own time; the source's clock was at 1000 ms then (mid-pass).
        let recorded = file(truth.filter { $0.milliseconds >= 1000 }, shift: -1000)
        let check = ContentCheck.compare(recorded: recorded, truth: truth, gaps: [])
        #expect(check.passed, "\(check.figures) \(check.problems)")
        #expect(check.matched == recorded.count && check.written == recorded.count)
        #expect(check.beforeStart == truth.count { $0.milliseconds < 1000 })
        #expect(check.missingUnlogged == 0 && check.duplicated == 0 && check.unknown == 0)
    }

    /// A GOP the new connection re-sent, written again after the reconnect (the file's timeline moved on by the
    /// wall-clock gap): the same payloads a pass later would match too, but the walk takes the ones near its time.
    @Test func aReSentGOPWrittenTwiceIsDuplicated() {
        let truth = looping(passes: 3)
        let before = truth.filter { $0.milliseconds < 2600 }
        let resent = truth.filter { $0.milliseconds >= 2000 && $0.milliseconds < 2600 }
        let after = truth.filter { $0.milliseconds >= 2600 }
        // Written straight after 2600 ms, 300 ms of wall-clock gap later.
        let recorded = before + file(resent, shift: 900) + file(after, shift: 900)
        let check = ContentCheck.compare(recorded: recorded, truth: truth, gaps: [gap(from: 2.58, to: 2.9)])
        #expect(!check.passed)
        #expect(check.duplicated == resent.count, "\(check.figures)")
        #expect(check.matched == truth.count)
        #expect(check.missingUnlogged == 0 && check.unknown == 0 && check.outOfOrder == 0)
        #expect(check.problems.first?.hasPrefix("duplicate:") == true)
    }

    @Test func aMissingRunWithoutAGapFails_andWithAGapPasses() {
        let truth = looping(passes: 2)
        let missing = truth.filter { $0.milliseconds >= 1200 && $0.milliseconds < 1600 }
        let recorded = truth.filter { $0.milliseconds < 1200 || $0.milliseconds >= 1600 }

        let unlogged = ContentCheck.compare(recorded: recorded, truth: truth, gaps: [])
        #expect(!unlogged.passed)
        #expect(unlogged.missingUnlogged == missing.count, "\(unlogged.figures)")
        #expect(unlogged.problems.contains { $0.contains("no gap logged") })

        // A gap elsewhere in the file does not cover it.
        let elsewhere = ContentCheck.compare(recorded: recorded, truth: truth, gaps: [gap(from: 0.4, to: 0.5)])
        #expect(elsewhere.missingUnlogged == missing.count)

        // The recorder's gap: from the last packet before (audio at 1196 ms), to the first video after (1600 ms).
        let logged = ContentCheck.compare(recorded: recorded, truth: truth, gaps: [gap(from: 1.196, to: 1.6)])
        #expect(logged.passed, "\(logged.figures) \(logged.problems)")
        #expect(logged.inGaps == missing.count && logged.missingUnlogged == 0)
        #expect(logged.gaps.first?.missing == missing.count)
        #expect(logged.gaps.first?.boundsMatch == true)

        // A gap that starts in the hole but claims to end a second later than the media came back.
        let wide = ContentCheck.compare(recorded: recorded, truth: truth, gaps: [gap(from: 1.196, to: 2.6)])
        #expect(wide.inGaps == missing.count)
        #expect(wide.gaps.first?.boundsMatch == false)
        #expect(wide.gapsWithOtherBounds == 1)
    }

    @Test func aPacketNeverSentIsUnknown_andASwapIsOutOfOrder() {
        let truth = looping(passes: 1)
        var recorded = truth
        recorded.insert(
            PacketDigest(kind: .video, milliseconds: 500, isKeyframe: false, size: 1000, hash: 0xDEAD),
            at: 30
        )
        let unknown = ContentCheck.compare(recorded: recorded, truth: truth, gaps: [])
        #expect(unknown.unknown == 1 && unknown.matched == truth.count && !unknown.passed)

        // Two video frames written in each other's place (their times as written, their payloads swapped).
        var swapped = truth
        let videos = swapped.indices.filter { swapped[$0].kind == .video }
        let (a, b) = (videos[10], videos[11])
        (swapped[a].hash, swapped[b].hash) = (swapped[b].hash, swapped[a].hash)
        (swapped[a].size, swapped[b].size) = (swapped[b].size, swapped[a].size)
        let order = ContentCheck.compare(recorded: swapped, truth: truth, gaps: [])
        #expect(order.outOfOrder == 1, "\(order.figures)")
        #expect(!order.passed)
        #expect(order.missingUnlogged == 0 && order.duplicated == 0)
    }

    /// A file remuxed by FFmpeg from a source (the project's muxer wrappers): a run of video dropped, one packet written
    /// twice, one packet with a byte changed. The checker reads it back and names each fault.
    @Test func faultsPlantedInARemuxedFileAreFound() throws {
        let source = try MediaFixtures.files().audioVideoFLV.path
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("planted-\(UUID().uuidString).flv")
            .path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let input = try InputFormatContext(url: source)
        try input.findStreamInfo()
        let muxer = try OutputFormatContext(path: output)
        for index in input.streams.indices { _ = try muxer.addStream(copying: input, streamIndex: index) }
        try muxer.writeHeader()
        var videoIndex = 0
        var kept: Packet?
        var lastDts: Int64 = 0
        while true {
            let packet = Packet()
            guard try input.read(into: packet) else { break }
            if packet.mediaKind == .video {
                videoIndex += 1
                if (20..<30).contains(videoIndex) { continue }  // a run of ten video frames missing
                if videoIndex == 5 { kept = packet.sharedReference() }
                if videoIndex == 40 {
                    // One byte of this frame changed: a packet that was never sent.
                    #expect(av_packet_make_writable(packet.pointer) == 0)
                    packet.pointer.pointee.data[packet.size - 1] ^= 0xFF
                }
            }
            lastDts = max(lastDts, packet.dts ?? 0)
            try muxer.write(packet, toStream: packet.streamIndex)
        }
        // The fifth frame again, a frame after the last packet: written twice.
        let again = try #require(kept)
        #expect(again.timeBase == Rational(1, 1000), "FLV's time base")
        again.shiftTimestamps(by: lastDts + 40 - (again.dts ?? 0))
        try muxer.write(again, toStream: again.streamIndex)
        try muxer.finish()

        let truth = try PacketDigest.read(url: source)
        let check = try ContentCheck.run(paths: [output], truth: truth, sessionLog: nil)
        report("planted faults: \(check.figures)")
        // Ten frames dropped, and the changed one: it is not the frame that was sent.
        #expect(check.missingUnlogged == 11, "\(check.problems)")
        #expect(check.duplicated == 1)
        #expect(check.unknown == 1)
        #expect(check.matched == truth.count - 11)
        #expect(check.written == truth.count - 10 + 1)
        #expect(!check.passed)
        // The source against itself: every packet, nothing else.
        let clean = try ContentCheck.run(paths: [source], truth: truth, sessionLog: nil)
        #expect(clean.passed && clean.matched == truth.count && clean.written == truth.count)
    }
}
