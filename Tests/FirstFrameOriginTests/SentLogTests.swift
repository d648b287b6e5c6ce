import FirstFrameCore
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

extension OriginTests {
    /// The sent log: per connection, the packets the origin handed to the kernel, hashed over the bytes FFmpeg's FLV
    /// demuxer returns as packet data — the ground truth of the recording checks.
    @Suite struct SentLogs {
        init() { FFmpegLog.level = .error }

        private var logging: OriginConfiguration { OriginConfiguration(logsSentTags: true) }

        /// FFmpeg reads one connection to its clean end; the log of that connection is the same packets, hash for hash:
        /// the origin hashes the bytes FFmpeg hands on.
        @Test func theLogIsWhatAnFFmpegReaderOfTheConnectionReads() async throws {
            try await withOrigin(logging) { origin in
                // Chunked, so that FFmpeg sees a clean end (a close-delimited body ends in EIO in FFmpeg 5.1).
                let url = origin.url(.gop, behaviour: Behaviour(chunked: true, endAfterMilliseconds: 1500))
                let read = try await blocking { try PacketDigest.read(url: url) }
                let logged = try #require(origin.sentTags())
                #expect(read.count > 50, "1.5 s of 25 fps video and AAC")
                #expect(Set(read.map(\.kind)) == [.video, .audio])
                #expect(logged.allSatisfy { $0.complete })
                #expect(Set(logged.map(\.connection)).count == 1, "one connection")
                let difference = zip(logged.map(\.packet), read).enumerated().first { $0.element.0 != $0.element.1 }
                #expect(
                    logged.map(\.packet) == read,
                    "\(logged.count) logged, \(read.count) read; first difference: \(String(describing: difference))"
                )
                // Every video packet differs from the one before it: the hash sees the payload, not a header.
                let video = read.filter { $0.kind == .video }.map(\.hash)
                #expect(zip(video, video.dropFirst()).allSatisfy { $0 != $1 })
                report("sent log: \(logged.count) packets, FFmpeg read \(read.count), equal")
            }
        }

        /// `/sent/NAME` serves the log as JSON Lines that decode to the same tags; a byte limit cuts the stream inside a
        /// tag, logged as incomplete, and the complete ones are exactly the media tags the client received whole.
        @Test func theRouteServesTheLogAndACutTagIsIncomplete() async throws {
            try await withOrigin(logging) { origin in
                // The gop burst is over 200 kB: the limit falls inside a media tag (a boundary at exactly that byte
                // would leave nothing incomplete, which the test allows).
                let stream = try await blocking {
                    try ReceivedStream.receive(
                        origin.url(.gop, behaviour: Behaviour(closeAfterBytes: 200_000)),
                        timeout: 10
                    )
                }
                #expect(stream.closedByOrigin && stream.body.count == 200_000)
                let received = stream.media.compactMap { $0.tag.packetDigest() }
                let logged = try #require(origin.sentTags())
                #expect(logged.filter(\.complete).map(\.packet) == received)
                let incomplete = logged.filter { !$0.complete }
                #expect(incomplete.count == (stream.endsOnTagBoundary ? 0 : 1))
                #expect(incomplete.allSatisfy { $0 == logged.last })

                let served = try await blocking {
                    try ReceivedStream.receive(origin.baseURL + "/sent/stream", timeout: 10)
                }
                #expect(served.head.status == 200)
                #expect(served.head.headers["content-type"] == "application/jsonl")
                #expect(served.head.headers["x-sent-log-dropped"] == "0")
                #expect(try SentTag.decode(jsonLines: Data(served.body)) == logged)
                // The truth leaves the cut tag out.
                #expect(SentTag.truth(logged) == received)
            }
        }

        /// Off by default: nothing is logged and the route says how to turn it on; a channel never played has no log.
        @Test func offByDefaultAndOnlyForChannelsPlayed() async throws {
            try await withOrigin { origin in
                #expect(origin.sentTags() == nil)
                let off = try await blocking {
                    try ReceivedStream.receive(origin.baseURL + "/sent/stream", timeout: 10)
                }
                #expect(off.head.status == 404)
                #expect(String(decoding: off.body, as: UTF8.self).contains("--log-sent-tags"))
            }
            try await withOrigin(logging) { origin in
                let unknown = try await blocking {
                    try ReceivedStream.receive(origin.baseURL + "/sent/room9", timeout: 10)
                }
                #expect(unknown.head.status == 404)
                #expect(origin.sentTags(channel: "room9") == nil)
            }
        }

        /// The bound: a log keeps its latest tags and counts the ones it let go.
        @Test func theLogKeepsItsLatestTags() async throws {
            var configuration = logging
            configuration.sentLogCapacity = 20
            try await withOrigin(configuration) { origin in
                let stream = try await blocking {
                    try ReceivedStream.receive(
                        origin.url(.gop, behaviour: Behaviour(endAfterMilliseconds: 1500)),
                        timeout: 10
                    )
                }
                let received = stream.media.compactMap { $0.tag.packetDigest() }
                #expect(received.count > 20)
                #expect(origin.sentTags()?.map(\.packet) == Array(received.suffix(20)))
                let served = try await blocking {
                    try ReceivedStream.receive(origin.baseURL + "/sent/stream", timeout: 10)
                }
                #expect(served.head.headers["x-sent-log-dropped"] == String(received.count - 20))
            }
        }

        /// The digest of a tag is over what FFmpeg's FLV demuxer returns: after 5 header bytes for AVC, 2 for AAC, 1
        /// for other codecs; sequence headers and end-of-sequence markers are no packets.
        @Test func theDigestSkipsTheFLVHeadersOfEachCodec() {
            let body: [UInt8] = [9, 8, 7, 6]
            func hash(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { PayloadHash.hash($0) } }
            let avc = FLVTag(kind: .video, timestamp: 40, payload: [0x17, 1, 0, 0, 0x28] + body).packetDigest()
            #expect(avc == PacketDigest(kind: .video, milliseconds: 40, isKeyframe: true, size: 4, hash: hash(body)))
            let aac = FLVTag(kind: .audio, timestamp: 23, payload: [0xAF, 1] + body).packetDigest()
            #expect(aac == PacketDigest(kind: .audio, milliseconds: 23, isKeyframe: true, size: 4, hash: hash(body)))
            let h263 = FLVTag(kind: .video, timestamp: 80, payload: [0x22] + body).packetDigest()
            #expect(h263 == PacketDigest(kind: .video, milliseconds: 80, isKeyframe: false, size: 4, hash: hash(body)))
            let mp3 = FLVTag(kind: .audio, timestamp: 26, payload: [0x2F] + body).packetDigest()
            #expect(mp3?.size == 4 && mp3?.hash == hash(body))
            #expect(FLVTag(kind: .video, timestamp: 0, payload: [0x17, 0, 0, 0, 0, 1, 2]).packetDigest() == nil)
            #expect(FLVTag(kind: .audio, timestamp: 0, payload: [0xAF, 0, 0x12, 0x10]).packetDigest() == nil)
            #expect(FLVTag.avcEndOfSequence(timestamp: 9).packetDigest() == nil)
            // The documented definition, step by step, one byte at a time: the word-wise hash is exactly it, at every
            // length around the word boundaries.
            func reference(_ bytes: [UInt8]) -> UInt64 {
                var value = PayloadHash.offsetBasis ^ (UInt64(bytes.count) &* PayloadHash.prime)
                let whole = bytes.count / 8 * 8
                for start in stride(from: 0, to: whole, by: 8) {
                    var word: UInt64 = 0
                    for index in 0..<8 { word |= UInt64(bytes[start + index]) << (8 * UInt64(index)) }
                    value = (value ^ word) &* PayloadHash.prime
                    value ^= value >> 29
                }
                for byte in bytes[whole...] { value = (value ^ UInt64(byte)) &* PayloadHash.prime }
                value ^= value >> 32
                value &*= PayloadHash.finisher
                value ^= value >> 29
                return value
            }
            for count in 0...41 {
                let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
                #expect(hash(bytes) == reference(bytes), "\(count) bytes")
            }
            // What one changed byte, or one byte more, does.
            #expect(hash([1, 2, 3]) != hash([1, 2, 4]) && hash([0]) != hash([0, 0]) && hash([]) != hash([0]))
        }
    }
}
