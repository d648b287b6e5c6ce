import FirstFrame
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Synchronization
import Testing

extension OriginTests {
    /// After the first picture: the stream the player or recorder keeps, against the origin and against ffmpeg-made
    /// files (x264 with its default B-frames) from a plain file server.
    @Suite struct KeptStream {
        init() { FFmpegLog.level = .quiet }

        private func knobs(_ preset: Preset = .instant, _ change: (inout TuningKnobs) -> Void) -> TuningKnobs {
            var knobs = preset.knobs
            change(&knobs)
            return knobs
        }

        /// The open's deadline ends at the first picture: with `totalDeadline` 2 s, a live stream is read for a
        /// minute, every frame there, in order.
        @Test func aKeptStreamReadsALiveChannelForAMinute() async throws {
            try await withOrigin { origin in
                let knobs = knobs {
                    $0.totalDeadline = 2
                    $0.readTimeoutMs = 3000
                }
                let stream = try await StreamOpener(knobs: knobs).open(origin.url(.live))
                let started = MonotonicClock.nanoseconds()
                var video: [Int64] = []
                var corrupt = 0
                for try await packet in stream.packets() {
                    if packet.flags.contains(.corrupt) { corrupt += 1 }
                    guard packet.mediaKind == .video, let dts = packet.dts else { continue }
                    #expect(packet.timeBase == Rational(1, 1000))
                    video.append(dts)
                    if dts - video[0] >= 60_000 { break }
                }
                let seconds = Double(MonotonicClock.nanoseconds() - started) / 1e9
                stream.close()
                #expect(stream.end?.reason == .closed)
                #expect(corrupt == 0)
                #expect(video.count >= 1500)
                let steps = Set(zip(video, video.dropFirst()).map { $1 - $0 })
                #expect(steps == [40], "25 fps without a missing frame: \(steps)")
                // Live: a minute of media takes a minute, 30 times the open's deadline.
                #expect(seconds > 55)
                report(
                    "kept stream: \(video.count) video packets over \(String(format: "%.1f", seconds)) s past a 2 s open deadline"
                )
            }
        }

        /// A stream whose server stops sending after 120 kB, with no read timeout: its reads block.
        private func stalledStream(_ origin: LiveOrigin) async throws -> OpenedStream {
            let knobs = knobs { $0.readTimeoutMs = 0 }
            return try await StreamOpener(knobs: knobs).open(
                origin.url(.gop, behaviour: Behaviour(stallAfterBytes: 120_000))
            )
        }

        /// A read blocked on another thread (the server stalls; no read timeout) returns when the stream is
        /// closed, as a clean end; closing again changes nothing.
        @Test func closeUnblocksAReadBlockedOnAnotherThread() async throws {
            try await withOrigin { origin in
                let stream = try await stalledStream(origin)
                let lastReturn = Atomic<UInt64>(MonotonicClock.nanoseconds())
                let finished = Atomic<Bool>(false)
                let reading = Task.detached {
                    try await blocking { () -> Int in
                        var count = 0
                        while try stream.readPacket() != nil {
                            count += 1
                            lastReturn.store(MonotonicClock.nanoseconds(), ordering: .relaxed)
                        }
                        finished.store(true, ordering: .relaxed)
                        return count
                    }
                }
                // Media flows at 25 fps: a reader that has not returned for 500 ms is blocked in the stalled read.
                #expect(
                    try await eventually(timeout: 15) {
                        MonotonicClock.nanoseconds() - lastReturn.load(ordering: .relaxed) > 500_000_000
                    }
                )
                let finishedBeforeClose = finished.load(ordering: .relaxed)
                #expect(!finishedBeforeClose)
                let closing = MonotonicClock.nanoseconds()
                stream.close()
                stream.close()
                let count = try await reading.value
                let unblockedMs = Double(MonotonicClock.nanoseconds() - closing) / 1e6
                #expect(count > 0)
                #expect(stream.end?.reason == .closed)
                #expect(unblockedMs < 1000, "FFmpeg polls the interrupt callback every 100 ms")
                report("close unblocked a stalled read in \(String(format: "%.1f", unblockedMs)) ms")
            }
        }

        /// Cancelling the task that iterates a stalled stream (no read timeout) ends its read and the sequence.
        @Test func cancellingTheConsumingTaskEndsAStalledRead() async throws {
            try await withOrigin { origin in
                let stream = try await stalledStream(origin)
                let lastPacket = Atomic<UInt64>(MonotonicClock.nanoseconds())
                let consuming = Task {
                    var count = 0
                    for try await _ in stream.packets() {
                        count += 1
                        lastPacket.store(MonotonicClock.nanoseconds(), ordering: .relaxed)
                    }
                    return count
                }
                // Media flows at 25 fps: nothing for 500 ms means the read-ahead is blocked in the stalled read.
                #expect(
                    try await eventually(timeout: 15) {
                        MonotonicClock.nanoseconds() - lastPacket.load(ordering: .relaxed) > 500_000_000
                    }
                )
                let cancelled = MonotonicClock.nanoseconds()
                consuming.cancel()
                let count = try await consuming.value
                let endedMs = Double(MonotonicClock.nanoseconds() - cancelled) / 1e6
                #expect(count > 0)
                #expect(endedMs < 1000)
                stream.close()
                #expect(stream.end?.reason == .closed)
            }
        }

        /// Batched reads (SO_RCVLOWAT on the media connection) still hand on every frame, in order; a closed stream
        /// has no socket to batch.
        @Test func batchedReadsHandOnEveryFrame() async throws {
            try await withOrigin { origin in
                let stream = try await StreamOpener(preset: .instant).open(origin.url(.live))
                #expect(stream.batchReads(bytes: 16_384))
                var video: [Int64] = []
                for try await packet in stream.packets() where packet.mediaKind == .video {
                    video.append(try #require(packet.dts))
                    if video.count == 75 { break }
                }
                #expect(Set(zip(video, video.dropFirst()).map { $1 - $0 }) == [40])
                stream.close()
                #expect(!stream.batchReads(bytes: 16_384))
            }
        }

        /// A server that stalls ends the stream as stalled after the read timeout, with the stall's length.
        @Test func aStallPastTheReadTimeoutEndsTheStream() async throws {
            try await withOrigin { origin in
                let knobs = knobs { $0.readTimeoutMs = 400 }
                let stream = try await StreamOpener(knobs: knobs).open(
                    origin.url(.gop, behaviour: Behaviour(stallAfterBytes: 120_000))
                )
                var packets = 0
                do throws(StreamEnd) {
                    for try await _ in stream.packets() { packets += 1 }
                    Issue.record("the sequence finished instead of throwing the stall")
                } catch {
                    #expect(error.reason == .stalled)
                    #expect(error.secondsSinceLastPacket >= 0.38 && error.secondsSinceLastPacket < 3)
                    #expect(error.packets == packets)
                    #expect(error.bytesRead > 100_000)
                }
                #expect(stream.end?.reason == .stalled)
            }
        }

        /// A stall that cuts a tag in two: the read the timeout interrupts returns the truncated tag, and the stream
        /// ends as stalled one read timeout after the last whole packet, not two (the truncated tag never restarts
        /// the timeout).
        @Test func aStallInsideATagEndsAfterOneReadTimeout() async throws {
            try await withOrigin { origin in
                let knobs = knobs { $0.readTimeoutMs = 1000 }
                // 120 001 bytes: inside a tag (the test checks it cut one).
                let stream = try await StreamOpener(knobs: knobs).open(
                    origin.url(.gop, behaviour: Behaviour(stallAfterBytes: 120_001))
                )
                // The consumer's own clock: when the last packet reached it, and when the end did.
                var lastPacket = MonotonicClock.nanoseconds()
                do throws(StreamEnd) {
                    for try await _ in stream.packets() { lastPacket = MonotonicClock.nanoseconds() }
                    Issue.record("the sequence finished instead of throwing the stall")
                } catch {
                    let observed = Double(MonotonicClock.nanoseconds() - lastPacket) / 1e9
                    #expect(observed < 1.6, "the end came \(observed) s after the last packet, for a 1 s read timeout")
                    #expect(error.reason == .stalled)
                    #expect(error.discardedBytes > 0, "the stall did not cut a tag: \(error)")
                    #expect(
                        error.secondsSinceLastPacket >= 0.95 && error.secondsSinceLastPacket < 1.6,
                        "one read timeout (1 s) after the last whole packet: \(error.secondsSinceLastPacket) s"
                    )
                }
            }
        }

        /// The body ends inside a video packet (a file cut mid-tag, served with its length by a plain file server):
        /// the truncated packet is not handed on, its bytes are counted, and everything handed on decodes cleanly.
        @Test func aConnectionDroppedInsideAPacketNeverHandsItOn() async throws {
            let files = try MediaFixtures.files()
            let file = try [UInt8](Data(contentsOf: files.audioVideoFLV))
            let tags = try MediaFixtures.flvTags(file).tags
            // A video tag a second in, cut in the middle of its data.
            let cutTag = try #require(tags.first { $0.type == 9 && $0.timestamp >= 1000 && $0.dataSize > 200 })
            let cut = cutTag.offset + 16 + (cutTag.dataSize - 5) / 2
            let server = try StaticFileServer(files: ["cut.flv": Array(file[0..<cut])])
            defer { server.stop() }
            let stream = try await StreamOpener(preset: .instant).open("http://127.0.0.1:\(server.port)/cut.flv")
            let handOff = try #require(stream.takeVideoDecoder())
            var handedOn: [Packet] = []
            do throws(StreamEnd) {
                for try await packet in stream.packets() { handedOn.append(packet) }
                Issue.record("the sequence finished cleanly")
            } catch {
                #expect(error.reason == .connectionDropped)
                #expect(error.discardedBytes == cut - (cutTag.offset + 16), "the truncated packet's bytes")
            }
            #expect(handedOn.allSatisfy { !$0.flags.contains(.corrupt) })
            let lastVideo = try #require(handedOn.last { $0.mediaKind == .video })
            #expect(lastVideo.dts.map { $0 < Int64(cutTag.timestamp) } == true)
            // Every handed-on video packet after the ones the open decoded goes through the primed decoder.
            let video = handedOn.filter { $0.mediaKind == .video }.drop { !$0.flags.contains(.key) }.dropFirst(
                handOff.packetsAlreadyDecoded
            )
            var errors = 0
            var pictures = 0
            let frame = Frame()
            for packet in video {
                do {
                    try handOff.decoder.send(packet)
                    while try handOff.decoder.receive(into: frame) { pictures += 1 }
                } catch {
                    errors += 1
                }
            }
            #expect(errors == 0)
            #expect(pictures > 10)
        }

        /// An input that ends after a whole packet (a complete file from a plain file server) ends cleanly, with
        /// every packet ffprobe finds in it handed on.
        @Test func aCompleteInputEndsCleanlyWithEveryPacket() async throws {
            let files = try MediaFixtures.files()
            let server = try StaticFileServer(files: ["av.flv": try [UInt8](Data(contentsOf: files.audioVideoFLV))])
            defer { server.stop() }
            let expected = try MediaProbe.packets(files.audioVideoFLV.path)
            for preset in Preset.allCases {
                let stream = try await StreamOpener(preset: preset).open("http://127.0.0.1:\(server.port)/av.flv")
                var packets: [(kind: StreamInfo.Kind, key: Bool)] = []
                for try await packet in stream.packets() {
                    packets.append((packet.mediaKind, packet.flags.contains(.key)))
                }
                #expect(stream.end?.reason == .endOfInput, "\(preset)")
                #expect(
                    packets.count == expected.count,
                    "\(preset): \(packets.count) handed on, ffprobe finds \(expected.count)"
                )
                #expect(
                    packets.filter { $0.kind == .video }.count == expected.filter { $0.codec_type == "video" }.count,
                    "\(preset)"
                )
            }
        }
    }
}
