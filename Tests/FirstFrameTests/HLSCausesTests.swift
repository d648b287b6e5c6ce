import FirstFrame
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
import FirstFrameNetwork
import FirstFrameFFmpeg
#endif

/// The causes of an HLS open, from a hand-built trace of what FFmpeg 5.1's hls demuxer does on a 60 ms link: the
/// playlist, the first segment on a new connection, the next segment opened (`http_multiple`) before a byte of
/// the first one's body is read, then the first segment's body in 32 KB reads while the segment demuxer holds the
/// keyframe back. The server's time is one round trip per request; the competing fetch and the read-ahead are the
/// client's; the keyframe's transfer ends with the read that delivered its last byte.
@Suite struct HLSCausesTests {
    static let origin: UInt64 = 70_000_000_000

    static func at(_ ms: Double) -> UInt64 { origin + UInt64(ms * 1_000_000) }

    static func sockaddr(_ address: String, _ port: Int) -> [UInt8] {
        var storage = SocketAddress(address: IPAddress(address)!, port: port).storage
        return withUnsafeBytes(of: &storage) { Array($0.prefix(16)) }
    }

    static func packed(_ address: String, _ port: Int) -> [UInt8] {
        let bytes = sockaddr(address, port)
        return withUnsafeBytes(of: UInt32(bytes.count)) { Array($0) } + bytes
    }

    /// One HTTP request on a new connection `fd`: a lookup from `start`, a 60 ms connect, the request, and the
    /// response head (with `body` in the same read) one round trip later.
    static func request(fd: Int32, path: String, start: Double, head: String, body: [UInt8] = []) -> [NetworkEvent] {
        let request = "GET \(path) HTTP/1.1\r\nHost: edge.test:8080\r\n\r\n"
        return [
            NetworkEvent(kind: .lookupStart, time: at(start), data: Array("edge.test\u{0}8080".utf8)),
            NetworkEvent(kind: .lookupEnd, time: at(start + 1), data: packed("127.0.0.2", 8080)),
            NetworkEvent(kind: .connectStart, time: at(start + 1), fd: fd, data: sockaddr("127.0.0.2", 8080)),
            NetworkEvent(kind: .connectReturn, time: at(start + 1), fd: fd, result: -1, error: EINPROGRESS),
            NetworkEvent(kind: .socketError, time: at(start + 61), fd: fd),
            NetworkEvent(
                kind: .send,
                time: at(start + 62),
                fd: fd,
                result: Int64(request.utf8.count),
                data: Array(request.utf8)
            ),
            NetworkEvent(
                kind: .receive,
                time: at(start + 122),
                fd: fd,
                result: Int64(head.utf8.count + body.count),
                data: Array(head.utf8) + body
            ),
        ]
    }

    static let playlist = """
        #EXTM3U
        #EXT-X-VERSION:3
        #EXT-X-MEDIA-SEQUENCE:5
        #EXT-X-TARGETDURATION:2
        #EXTINF:2.000,
        room-5.ts
        #EXTINF:2.000,
        room-6.ts
        #EXTINF:2.000,
        room-7.ts

        """

    static func segmentHead(_ length: Int) -> String {
        "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: \(length)\r\n\r\n"
    }

    /// The first keyframe's bytes as the demuxer's packet gives them: its transport packet's position in the
    /// segment and the packet's size (18 242 bytes in 100 transport packets: offsets 940..<19 740).
    static let keyframeBytes: Range<Int64> = 940..<(940 + 18_242)

    /// Playlist 0–122 ms; segment 5 set up 121–182, answered at 243; segment 6 (the parallel fetch) 243–365; then
    /// segment 5's body: 14 480 bytes at 366, 14 480 more at 372 (the keyframe's last byte, offset 19 739, among
    /// them), the rest of the first 32 KB at 400 and a second 32 KB at 430; the keyframe handed out at 440.
    static var trace: NetworkTrace {
        var events = request(
            fd: 7,
            path: "/hls/room.m3u8",
            start: 0,
            head:
                "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.apple.mpegurl\r\nContent-Length: \(playlist.utf8.count)\r\n\r\n",
            body: Array(playlist.utf8)
        )
        events += request(fd: 8, path: "/hls/room-5.ts", start: 121, head: segmentHead(330_000))
        events += request(fd: 9, path: "/hls/room-6.ts", start: 243, head: segmentHead(330_000))
        // The body's reads: the trace keeps their first bytes (a transport stream's sync byte first).
        let sync: [UInt8] = [0x47, 0x40, 0x00, 0x10] + [UInt8](repeating: 0xFF, count: 12)
        for (ms, result) in [(366.0, 14_480), (372, 14_480), (400, 3_808), (430, 32_768)] {
            events.append(
                NetworkEvent(kind: .receive, time: at(ms), fd: 8, result: Int64(result), data: ms == 366 ? sync : [])
            )
        }
        return NetworkTrace(start: at(0), end: at(460), events: events)
    }

    static var marks: StageTimeline.MediaMarks {
        var marks = StageTimeline.MediaMarks()
        marks.formatProbed = at(368)
        marks.streamInfoFound = at(441)
        marks.bufferReady = at(442)
        marks.firstVideoFrame = at(450)
        return marks
    }

    static func report(knobs: TuningKnobs, presetName: String) -> FirstFrameReport {
        var media = ReportAssembler.Media(formatName: "hls")
        media.firstKeyframeRead = at(440)
        media.firstKeyframeBytes = keyframeBytes
        return ReportAssembler(
            trace: trace,
            marks: marks,
            knobs: knobs,
            url: "http://edge.test:8080/hls/room.m3u8",
            presetName: presetName,
            origin: origin,
            startedAt: 1_700_000_000,
            media: media,
            failure: nil,
            now: at(460)
        )
        .report()
    }

    @Test func theTraceReadsAsAPlaylistAndTwoSegments() {
        let report = Self.report(knobs: Preset.ffmpeg.knobs, presetName: "ffmpeg")
        #expect(report.hops.map(\.role) == [.mediaPlaylist, .segment, .segment])
        #expect(
            report.hops.map(\.url) == ["room.m3u8", "room-5.ts", "room-6.ts"].map { "http://edge.test:8080/hls/\($0)" }
        )
    }

    @Test func segmentRoundTripsAreTheServersAndTheParallelFetchAndReadAheadTheClients() throws {
        let report = Self.report(knobs: Preset.ffmpeg.knobs, presetName: "ffmpeg")
        let spans = (report.causes?.spans ?? []).map { "\($0.cause) \($0.startMs)–\($0.endMs)" }
        #expect(
            spans == [
                // The playlist: set-up, then one round trip.
                "networkSetup 0.0–61.0", "serverResponse 61.0–122.0",
                // The first segment: set-up, one round trip to its head.
                "networkSetup 122.0–182.0", "serverResponse 182.0–243.0",
                // The next segment fetched before a byte of this one's body was read: the client's choice.
                "clientWait 243.0–366.0",
                // The keyframe's bytes, up to the read that delivered its last byte (offset 19 739 at 372 ms).
                "keyframeTransfer 366.0–372.0",
                // The demuxer reading on (a second 32 KB) before it handed the keyframe over.
                "clientWait 372.0–442.0", "decode 442.0–450.0",
            ]
        )
        let causes = try #require(report.causes)
        #expect(causes.keyframeArrival == .network)
        // Two requests answered in one round trip each (a 60 ms connect): not a stream cold at the edge, and the
        // keyframe's 6 ms are not bandwidth.
        #expect(causes[.serverResponse] == 122)
        #expect(!report.advice.contains { $0.remedy == .warmEdge }, "\(report.advice.map(\.message))")
        #expect(!report.advice.contains { $0.cause == .keyframeTransfer })
        // The client's wait names the HLS demuxer's knobs, not skipStreamInfo (which does not apply to HLS).
        let wait = try #require(report.advice.first { $0.cause == .clientWait })
        #expect(wait.knobs == ["http_multiple=0", "hlsSegmentProbesize=4096", "fpsprobesize=0"], "\(wait.message)")
        #expect(wait.sweep?.hasSuffix("--set http_multiple=-1,0") == true, "\(wait.sweep ?? "-")")
    }

    @Test func withTheHLSKnobsSetTheAdviceSaysTheyAreAtTheirFastest() throws {
        let report = Self.report(knobs: Preset.instant.knobs, presetName: "instant")
        let wait = try #require(report.advice.first { $0.cause == .clientWait })
        #expect(wait.knobs.isEmpty && wait.message.contains("already at their fastest"), "\(wait.message)")
    }

    @Test func aSegmentAnsweredSlowerThanARoundTripIsStillAColdEdge() throws {
        // The same open, the first segment's head 300 ms after its request (a cache miss at the edge).
        var events = Self.trace.events
        let head = try #require(events.firstIndex { $0.fd == 8 && $0.kind == .receive })
        events[head].time = Self.at(505)
        for index in events.indices where events[index].fd == 9 || (events[index].fd == 8 && index > head) {
            events[index].time += 262_000_000
        }
        var media = ReportAssembler.Media(formatName: "hls")
        media.firstKeyframeRead = Self.at(702)
        media.firstKeyframeBytes = Self.keyframeBytes
        var marks = StageTimeline.MediaMarks()
        marks.formatProbed = Self.at(630)
        marks.streamInfoFound = Self.at(703)
        marks.bufferReady = Self.at(704)
        marks.firstVideoFrame = Self.at(712)
        let report = ReportAssembler(
            trace: NetworkTrace(start: Self.at(0), end: Self.at(720), events: events.sorted { $0.time < $1.time }),
            marks: marks,
            knobs: Preset.ffmpeg.knobs,
            url: "http://edge.test:8080/hls/room.m3u8",
            presetName: "ffmpeg",
            origin: Self.origin,
            startedAt: 1_700_000_000,
            media: media,
            failure: nil,
            now: Self.at(720)
        )
        .report()
        #expect(report.advice.contains { $0.remedy == .warmEdge }, "\(report.advice.map(\.message))")
    }
}
