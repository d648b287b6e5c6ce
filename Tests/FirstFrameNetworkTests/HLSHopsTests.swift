import FirstFrameCore
import FirstFrameNetwork
import Foundation
import Testing

/// HLS roles, variants, segment durations and distance from the live edge, read from hand-made event sequences:
/// keep-alive connections, chunked bodies split over reads, HTTPS plaintext, cut captures.
@Suite struct HLSHops {
    // MARK: Events

    private func sockaddr(_ address: String, _ port: Int) -> [UInt8] {
        var storage = SocketAddress(address: IPAddress(address)!, port: port).storage
        return withUnsafeBytes(of: &storage) { Array($0.prefix(16)) }
    }

    private func lookup(_ host: String, at time: UInt64, source: Int32) -> [NetworkEvent] {
        [
            NetworkEvent(kind: .lookupStart, time: time, data: Array("\(host)\u{0}8080".utf8)),
            NetworkEvent(kind: .lookupEnd, time: time + 1, aux: source),
        ]
    }

    private func connected(fd: Int32, at time: UInt64, port: Int = 8080) -> [NetworkEvent] {
        [
            NetworkEvent(kind: .connectStart, time: time, fd: fd, data: sockaddr("127.0.0.1", port)),
            NetworkEvent(kind: .connectReturn, time: time + 1, fd: fd, result: -1, error: EINPROGRESS),
            NetworkEvent(kind: .socketError, time: time + 2, fd: fd),
        ]
    }

    private func get(_ path: String, fd: Int32, at time: UInt64, kind: NetworkEvent.Kind = .send) -> NetworkEvent {
        let text = "GET \(path) HTTP/1.1\r\nHost: cdn.test:8080\r\n\r\n"
        return NetworkEvent(kind: kind, time: time, fd: fd, result: Int64(text.utf8.count), data: Array(text.utf8))
    }

    /// A response cut into reads at `splits` (byte offsets); `captured` limits the bytes the trace kept of it.
    private func respond(
        _ bytes: [UInt8],
        fd: Int32,
        at time: UInt64,
        splits: [Int] = [],
        captured: Int = .max,
        kind: NetworkEvent.Kind = .receive
    ) -> [NetworkEvent] {
        var events: [NetworkEvent] = []
        var start = 0
        var budget = captured
        for (offset, end) in (splits + [bytes.count]).enumerated() {
            let piece = Array(bytes[start..<end])
            let kept = Array(piece.prefix(max(0, budget)))
            budget -= kept.count
            events.append(
                NetworkEvent(kind: kind, time: time + UInt64(offset), fd: fd, result: Int64(piece.count), data: kept)
            )
            start = end
        }
        return events
    }

    private func ok(_ body: String, type: String = "application/vnd.apple.mpegurl") -> [UInt8] {
        Array("HTTP/1.1 200 OK\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
    }

    private func chunked(_ body: String, pieces: Int) -> [UInt8] {
        let bytes = Array(body.utf8)
        var out = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        let size = (bytes.count + pieces - 1) / pieces
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + size)
            out += Array("\(String(end - start, radix: 16));ext=1\r\n".utf8) + bytes[start..<end] + Array("\r\n".utf8)
            start = end
        }
        return out + Array("0\r\n\r\n".utf8)
    }

    private let master = """
        #EXTM3U
        #EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=320x240,CODECS="avc1.64000d,mp4a.40.2"
        hi/index.m3u8
        #EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=160x120
        http://cdn.test:8080/lo/index.m3u8

        """

    private func media(sequence: Int, count: Int, prefix: String = "", endList: Bool = false) -> String {
        var text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:\(sequence)\n"
        for index in sequence..<(sequence + count) {
            text += "#EXTINF:\(index.isMultiple(of: 2) ? "2.000000" : "1.500000"),\n\(prefix)seg\(index).ts\n"
        }
        return text + (endList ? "#EXT-X-ENDLIST\n" : "")
    }

    private let tsPacket: [UInt8] = [0x47, 0x40, 0x00, 0x10] + [UInt8](repeating: 0xFF, count: 184)

    /// The master on its own connection (fetched cold: resolver), both media playlists on a second connection
    /// (the second kept alive), the first segment of the first variant on a third; the master's body is chunked
    /// and split mid-chunk, the media playlist's body is split over three reads.
    private func keepAliveOpen() -> [NetworkEvent] {
        var events = lookup("cdn.test", at: 0, source: 3)
        events += connected(fd: 7, at: 10)
        events.append(get("/live/master.m3u8", fd: 7, at: 20))
        events += respond(chunked(master, pieces: 3), fd: 7, at: 30, splits: [20, 70, 130])
        events += lookup("cdn.test", at: 40, source: 1)
        events += connected(fd: 8, at: 42)
        events.append(get("/live/hi/index.m3u8", fd: 8, at: 50))
        events += respond(ok(media(sequence: 10, count: 5)), fd: 8, at: 55, splits: [40, 100, 150])
        events.append(get("/lo/index.m3u8", fd: 8, at: 60))
        events += respond(ok(media(sequence: 10, count: 5)), fd: 8, at: 65)
        events += lookup("cdn.test", at: 70, source: 1)
        events += connected(fd: 9, at: 72)
        events.append(get("/live/hi/seg12.ts", fd: 9, at: 80))
        events += respond(ok("") + tsPacket, fd: 9, at: 90)
        events.append(get("/live/hi/seg13.ts", fd: 9, at: 100))
        events += respond(ok("") + tsPacket, fd: 9, at: 110)
        return events
    }

    // MARK: Tests

    @Test func rolesVariantsAndTheLiveEdgeOfAKeepAliveOpen() throws {
        let trace = replayed(end: 200, keepAliveOpen())
        let hops = trace.hops
        #expect(hops.map(\.role) == [.masterPlaylist, .mediaPlaylist, .mediaPlaylist, .segment, .segment])
        // Warm or cold: the first lookup went to the resolvers, the later ones to the cache; kept-alive requests
        // made neither a lookup nor a connect.
        #expect(hops.map { $0.lookup?.source } == [.resolver, .cache, nil, .cache, nil])
        #expect(hops.map(\.reusedConnection) == [false, false, true, false, true])
        #expect(hops.allSatisfy { $0.tlsResumed == nil })

        let reading = HLSPlaylistReading(trace: trace)
        #expect(reading.isHLS)
        let masterPlaylist = try #require(reading.masterPlaylists.first)
        #expect(masterPlaylist.hop == 0 && masterPlaylist.complete)
        #expect(masterPlaylist.variants.map(\.bandwidth) == [800_000, 400_000])
        #expect(masterPlaylist.variants.map(\.resolution) == ["320x240", "160x120"])
        #expect(masterPlaylist.variants.first?.codecs == "avc1.64000d,mp4a.40.2", "a quoted attribute keeps its comma")
        #expect(
            masterPlaylist.variants.map(\.url) == [
                "http://cdn.test:8080/live/hi/index.m3u8", "http://cdn.test:8080/lo/index.m3u8",
            ]
        )
        #expect(masterPlaylist.variants.map(\.playlistHop) == [1, 2])
        #expect(masterPlaylist.fetchedVariants.map(\.uri) == ["hi/index.m3u8", "http://cdn.test:8080/lo/index.m3u8"])

        let playlist = try #require(reading.mediaPlaylists.first)
        #expect(playlist.hop == 1 && playlist.complete && playlist.isLive)
        #expect(playlist.targetDuration == 2 && playlist.mediaSequence == 10)
        #expect(playlist.segments.map(\.duration) == [2, 1.5, 2, 1.5, 2])
        #expect(playlist.segments.map(\.sequence) == Array(10...14))
        #expect(playlist.totalDuration == 9)

        // seg12 is the third of five: index -3 from the end, as FFmpeg's live_start_index counts; its start is
        // 2 + 1.5 + 2 = 5.5 s behind the end of the playlist.
        let first = try #require(reading.firstSegment(ofPlaylistHop: 1))
        #expect(first.hop == 3 && first.position == 2 && first.sequence == 12 && first.duration == 2)
        #expect(first.indexFromEnd == -3)
        #expect(first.secondsFromLiveEdge == 5.5)
        #expect(reading.segments.map(\.hop) == [3, 4])
        #expect(reading.segments.last?.indexFromEnd == -2 && reading.segments.last?.secondsFromLiveEdge == 3.5)
        #expect(
            reading.firstSegment(ofPlaylistHop: 2) == nil,
            "the lo variant's playlist was fetched, none of its segments"
        )
    }

    @Test func splitReadsGiveTheSameReadingAsWholeOnes() {
        var whole = keepAliveOpen()
        // The same open with every response in one read.
        whole = whole.reduce(into: [NetworkEvent]()) { merged, event in
            if event.kind == .receive, let last = merged.last, last.kind == .receive, last.fd == event.fd {
                merged[merged.count - 1].data += event.data
                merged[merged.count - 1].result += event.result
            } else {
                merged.append(event)
            }
        }
        let split = HLSPlaylistReading(events: keepAliveOpen())
        let joined = HLSPlaylistReading(events: whole)
        #expect(split == joined)
    }

    @Test func endListMakesAPlaylistNotLive() throws {
        var events = connected(fd: 5, at: 0)
        events.append(get("/vod/index.m3u8", fd: 5, at: 10))
        events += respond(
            chunked(media(sequence: 0, count: 3, endList: true), pieces: 4),
            fd: 5,
            at: 20,
            splits: [30, 31, 90]
        )
        let reading = HLSPlaylistReading(events: events)
        let playlist = try #require(reading.mediaPlaylists.first)
        #expect(!playlist.isLive && playlist.complete)
        #expect(playlist.segments.count == 3 && playlist.mediaSequence == 0)
        #expect(reading.masterPlaylists.isEmpty)
    }

    /// A playlist longer than the capture budget: the segments before the cut, and no distance from the edge.
    @Test func aCutPlaylistIsReadAsFarAsItGoesAndSaysSo() throws {
        let body = ok(media(sequence: 100, count: 40))
        var events = connected(fd: 5, at: 0)
        events.append(get("/live/hi/index.m3u8", fd: 5, at: 10))
        events += respond(body, fd: 5, at: 20, splits: [500, 1000], captured: 700)
        events += connected(fd: 6, at: 30)
        events.append(get("/live/hi/seg101.ts", fd: 6, at: 40))
        events += respond(ok("") + tsPacket, fd: 6, at: 50)
        let reading = HLSPlaylistReading(events: events)
        let playlist = try #require(reading.mediaPlaylists.first)
        #expect(!playlist.complete)
        #expect(playlist.segments.count > 5 && playlist.segments.count < 40)
        #expect(playlist.segments.allSatisfy { $0.uri.hasSuffix(".ts") }, "no half URI from the cut")
        let segment = try #require(reading.firstSegment)
        #expect(segment.sequence == 101 && segment.duration == 1.5)
        #expect(segment.indexFromEnd == nil && segment.secondsFromLiveEdge == nil)
    }

    /// HTTPS: the bodies come from the gnutls session's plaintext; the handshake's END says whether it resumed.
    @Test func httpsPlaintextAndTLSResumption() throws {
        var events = connected(fd: 11, at: 0, port: 443)
        events.append(NetworkEvent(kind: .tlsHandshakeStart, time: 10, fd: -100))
        events.append(NetworkEvent(kind: .send, time: 11, fd: 11, result: 300, data: [0x16, 0x03, 0x01]))
        events.append(NetworkEvent(kind: .receive, time: 12, fd: 11, result: 2000, data: [0x16, 0x03, 0x03]))
        events.append(NetworkEvent(kind: .tlsHandshakeEnd, time: 15, fd: -100, result: 0, aux: 0))
        events.append(get("/live/hi/index.m3u8", fd: -100, at: 20, kind: .tlsSend))
        events.append(NetworkEvent(kind: .send, time: 20, fd: 11, result: 90, data: [0x17, 0x03, 0x03]))
        events.append(NetworkEvent(kind: .receive, time: 29, fd: 11, result: 400, data: [0x17, 0x03, 0x03]))
        events += respond(
            chunked(media(sequence: 0, count: 4), pieces: 2),
            fd: -100,
            at: 30,
            splits: [60],
            kind: .tlsReceive
        )
        events += connected(fd: 12, at: 40, port: 443)
        events.append(NetworkEvent(kind: .tlsHandshakeStart, time: 50, fd: -101))
        events.append(NetworkEvent(kind: .send, time: 51, fd: 12, result: 300, data: [0x16, 0x03, 0x01]))
        events.append(NetworkEvent(kind: .tlsHandshakeEnd, time: 55, fd: -101, result: -28, aux: -1))
        events.append(NetworkEvent(kind: .tlsHandshakeEnd, time: 56, fd: -101, result: 0, aux: 1))
        events.append(get("/live/hi/seg1.ts", fd: -101, at: 60, kind: .tlsSend))
        events += respond(ok("", type: "video/mp2t"), fd: -101, at: 70, kind: .tlsReceive)
        let trace = replayed(end: 100, events)
        #expect(trace.hops.map(\.kind) == [.tls, .tls])
        #expect(trace.hops.map(\.role) == [.mediaPlaylist, .segment])
        #expect(trace.hops.map(\.tlsResumed) == [false, true])
        let reading = HLSPlaylistReading(trace: trace)
        let segment = try #require(reading.firstSegment)
        #expect(segment.hop == 1 && segment.indexFromEnd == -3 && segment.secondsFromLiveEdge == 5)
        #expect(reading.mediaPlaylists.first?.segments.map(\.url).first == "https://cdn.test:8080/live/hi/seg0.ts")
    }

    /// A variant whose playlist URL redirects: the variant was fetched by the hop that answered.
    @Test func aRedirectedVariantIsFollowed() throws {
        var events = connected(fd: 5, at: 0)
        events.append(get("/master.m3u8", fd: 5, at: 10))
        events += respond(ok("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n/a/../v.m3u8?token=1\n"), fd: 5, at: 20)
        events.append(get("/v.m3u8?token=1", fd: 5, at: 30))
        events += respond(
            Array("HTTP/1.1 302 Found\r\nLocation: http://edge.test/v/index.m3u8\r\nContent-Length: 0\r\n\r\n".utf8),
            fd: 5,
            at: 40
        )
        events += connected(fd: 6, at: 50, port: 80)
        let request = "GET /v/index.m3u8 HTTP/1.1\r\nHost: edge.test\r\n\r\n"
        events.append(
            NetworkEvent(kind: .send, time: 60, fd: 6, result: Int64(request.utf8.count), data: Array(request.utf8))
        )
        events += respond(ok(media(sequence: 0, count: 2)), fd: 6, at: 70)
        let trace = replayed(end: 100, events)
        #expect(trace.hops.map(\.role) == [.masterPlaylist, .other, .mediaPlaylist])
        let reading = HLSPlaylistReading(trace: trace)
        #expect(reading.masterPlaylists.first?.variants.first?.url == "http://cdn.test:8080/v.m3u8?token=1")
        #expect(reading.masterPlaylists.first?.variants.first?.playlistHop == 2)
    }

    @Test func aStreamThatIsNotHLSHasNoRoles() {
        var events = connected(fd: 5, at: 0)
        events.append(get("/live/stream.flv", fd: 5, at: 10))
        events += respond(ok("FLV\u{1}\u{5}", type: "video/x-flv"), fd: 5, at: 20)
        let trace = replayed(end: 30, events)
        #expect(trace.hops.map(\.role) == [nil])
        #expect(!HLSPlaylistReading(trace: trace).isHLS)
    }

    @Test(arguments: [
        ("seg1.ts", "http://a.test/live/hi/index.m3u8?x=1", "http://a.test/live/hi/seg1.ts"),
        ("../lo/seg1.ts", "http://a.test/live/hi/index.m3u8", "http://a.test/live/lo/seg1.ts"),
        ("./seg1.ts?t=2", "http://a.test/live/index.m3u8", "http://a.test/live/seg1.ts?t=2"),
        ("/root/seg1.ts", "https://a.test:8443/live/index.m3u8", "https://a.test:8443/root/seg1.ts"),
        ("//b.test/seg1.ts", "https://a.test/live/index.m3u8", "https://b.test/seg1.ts"),
        ("http://B.test:80/x.ts", "http://a.test/live/index.m3u8", "http://b.test/x.ts"),
    ])
    func uriResolution(_ uri: String, _ base: String, _ expected: String) {
        #expect(HLSPlaylistReading.normalized(HLSPlaylistReading.resolve(uri, against: base)) == expected)
    }
}
