import FirstFrame
import FirstFrameNetwork
import Testing

/// The opener's pure parts, without an open: the FLV header's flags, when stream information without
/// `avformat_find_stream_info` has waited enough, and what the open reads from the trace besides the hops.
@Suite struct OpenerPartsTests {
    typealias Fixture = ReportAssemblerTests.ColdEdgeFLV

    // MARK: FLVHeaderSniffer

    @Test func theFLVHeaderSaysWhichStreamsItAnnounces() {
        func header(_ flags: UInt8) -> [UInt8] { [0x46, 0x4C, 0x56, 1, flags, 0, 0, 0, 9] }
        #expect(FLVHeaderSniffer.flags(in: header(0x05)) == .init(video: true, audio: true))
        #expect(FLVHeaderSniffer.flags(in: header(0x01)) == .init(video: true, audio: false))
        #expect(FLVHeaderSniffer.flags(in: header(0x04)) == .init(video: false, audio: true))
        // Behind a response head (the trace keeps the head and the body's first bytes in one read).
        let response = Array("HTTP/1.1 200 OK\r\n\r\n".utf8) + header(0x01) + [0, 0, 0, 0]
        #expect(FLVHeaderSniffer.flags(in: response) == .init(video: true, audio: false))
    }

    @Test func bytesThatAreNotAnFLVHeaderAnnounceNothing() {
        #expect(FLVHeaderSniffer.flags(in: [0x46, 0x4C, 0x56, 2, 0x05, 0, 0, 0, 9]) == nil)  // version 2
        #expect(FLVHeaderSniffer.flags(in: [0x46, 0x4C, 0x56, 1, 0x05, 0, 0, 0, 10]) == nil)  // header size 10
        #expect(FLVHeaderSniffer.flags(in: [0x46, 0x4C, 0x56, 1, 0x05, 0, 0, 0]) == nil)  // 8 bytes
        #expect(FLVHeaderSniffer.flags(in: Array("<html>not a stream</html>".utf8)) == nil)
    }

    // MARK: StreamInfoPolicy

    /// `policy`'s answer, asked with the video and audio known or not at `now`.
    private func ask(_ policy: inout StreamInfoPolicy, video: Bool, audio: Bool, at now: UInt64) -> Bool {
        policy.isSatisfied(videoKnown: video, audioKnown: audio, now: now)
    }

    @Test func announcedAudioIsWaitedForStreamWaitMsOnceTheVideoIsKnown() {
        var policy = StreamInfoPolicy(announced: .init(video: true, audio: true), streamWaitMs: 300)
        #expect(!ask(&policy, video: false, audio: true, at: 0))
        #expect(!ask(&policy, video: true, audio: false, at: 1_000_000_000))
        #expect(policy.videoKnownAt == 1_000_000_000)
        #expect(!ask(&policy, video: true, audio: false, at: 1_299_999_999))
        #expect(ask(&policy, video: true, audio: false, at: 1_300_000_000))
        // Audio that comes within the wait ends it at once.
        var early = StreamInfoPolicy(announced: .init(video: true, audio: true), streamWaitMs: 300)
        #expect(!ask(&early, video: true, audio: false, at: 5))
        #expect(ask(&early, video: true, audio: true, at: 6))
    }

    @Test func announcedVideoIsWaitedForWhateverElseCame() {
        var reads = 0
        func now() -> UInt64 {
            reads += 1
            return UInt64(reads) * 10_000_000_000
        }
        var policy = StreamInfoPolicy(announced: .init(video: true, audio: false), streamWaitMs: 0)
        for _ in 0..<3 {
            let satisfied = policy.isSatisfied(videoKnown: false, audioKnown: true, now: now())
            #expect(!satisfied)
        }
        // The clock is read only once the video is known: before that, no wait runs.
        #expect(reads == 0)
        #expect(ask(&policy, video: true, audio: false, at: 1))
        // Without a header, both are waited for.
        var headerless = StreamInfoPolicy(announced: nil, streamWaitMs: 1000)
        #expect(!ask(&headerless, video: true, audio: false, at: 0))
        #expect(ask(&headerless, video: true, audio: true, at: 1))
    }

    // MARK: TraceEvidence

    private func trace(responding head: String) -> NetworkTrace {
        let events = Fixture.setUp.prefix(6) + [Fixture.receive(80, Array(head.utf8))]
        return NetworkTrace(start: ReportAssemblerTests.at(0), end: ReportAssemblerTests.at(100), events: Array(events))
    }

    @Test func aStatusLineNoHTTPServerSendsIsTheServersError() throws {
        #expect(TraceEvidence.statusLineFailure(trace(responding: "HTTP/1.1 200 OK\r\n\r\n")) == nil)
        #expect(TraceEvidence.statusLineFailure(trace(responding: "ICY 200 OK\r\n\r\n")) == nil)
        let outOfRange = try #require(TraceEvidence.statusLineFailure(trace(responding: "HTTP/1.1 700 Odd\r\n\r\n")))
        #expect(outOfRange.stage == .httpResponse && outOfRange.kind == .http)
        #expect(outOfRange.message == "invalid HTTP status line 'HTTP/1.1 700 Odd' (status 700)")
        let garbage = try #require(TraceEvidence.statusLineFailure(trace(responding: "GARBAGE\r\n\r\n")))
        #expect(garbage.message == "invalid HTTP status line 'GARBAGE'")
    }

    @Test func theKeptStreamsSocketIsTheOpenMediaConnection() {
        #expect(TraceEvidence.mediaSocket(Fixture.trace, formatName: "flv") == Fixture.fd)
        #expect(TraceEvidence.mediaSocket(Fixture.trace, formatName: "mpegts") == Fixture.fd)
        // HLS opens a connection per segment; a connection that closed is no one's.
        #expect(TraceEvidence.mediaSocket(Fixture.trace, formatName: "hls") == nil)
        let closed = NetworkTrace(
            start: ReportAssemblerTests.at(0),
            end: ReportAssemblerTests.at(500),
            events: Fixture.setUp + [NetworkEvent(kind: .close, time: ReportAssemblerTests.at(200), fd: Fixture.fd)]
        )
        #expect(TraceEvidence.mediaSocket(closed, formatName: "flv") == nil)
    }

    @Test func mediaArrivalIsNothingWithoutAnInput() {
        let trace = Fixture.trace
        #expect(TraceEvidence.mediaArrival(trace, formatName: nil, keyframeBytes: Fixture.keyframeBytes) == nil)
        let arrival = TraceEvidence.mediaArrival(trace, formatName: "flv", keyframeBytes: Fixture.keyframeBytes)
        #expect(arrival?.hop == 0)
        #expect(arrival?.firstMediaByte == ReportAssemblerTests.at(150))
        #expect(arrival?.keyframeFirstByte == ReportAssemblerTests.at(400))
        #expect(arrival?.keyframeLastByte == ReportAssemblerTests.at(450))
        // MPEG-TS has no file header: its first body byte is media.
        #expect(
            TraceEvidence.mediaArrival(trace, formatName: "mpegts", keyframeBytes: nil)?.firstMediaByte
                == ReportAssemblerTests.at(80)
        )
    }
}
