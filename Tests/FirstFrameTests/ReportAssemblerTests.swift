import FirstFrame
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
import FirstFrameNetwork
import FirstFrameFFmpeg
#endif

/// The report assembler fed recorded evidence: the network events a traced open records, the media marks its
/// pipeline stamps, and what the input said of itself. No FFmpeg and no clock: each fixture gives one report, and
/// the stages, causes, hops and failure it must say are pinned down to the millisecond.
@Suite struct ReportAssemblerTests {
    /// The open's origin (`MonotonicClock` nanoseconds): fixture times are milliseconds after it.
    static let origin: UInt64 = 50_000_000_000

    static func at(_ ms: Double) -> UInt64 { origin + UInt64(ms * 1_000_000) }

    // MARK: Fixtures

    /// The events of an HTTP-FLV open from a cold edge, as the hooks record them: the lookup (1–21 ms), a connect
    /// (22–31 ms), the request (32 ms), the response head with the FLV file header (80 ms), the metadata and
    /// sequence headers (150 ms), and the first keyframe's bytes, held back by the edge until its next keyframe
    /// (400 and 450 ms). The body offsets: the file header 0..<13, the first tags 13..<213, then 3000 bytes.
    enum ColdEdgeFLV {
        static let fd: Int32 = 7
        static let head = "HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nConnection: close\r\n\r\n"
        /// "FLV", version 1, audio and video, header size 9, then the first previous-tag size.
        static let fileHeader: [UInt8] = [0x46, 0x4C, 0x56, 1, 0x05, 0, 0, 0, 9, 0, 0, 0, 0]
        /// The first keyframe's bytes in the body, as its packet's position and size give them.
        static let keyframeBytes: Range<Int64> = 213..<2213

        static func sockaddr(_ address: String, _ port: Int) -> [UInt8] {
            var storage = SocketAddress(address: IPAddress(address)!, port: port).storage
            return withUnsafeBytes(of: &storage) { Array($0.prefix(16)) }
        }

        /// A lookup end's answers as the hooks pack them: a 32-bit length, then the sockaddr.
        static func packed(_ address: String, _ port: Int) -> [UInt8] {
            let bytes = sockaddr(address, port)
            return withUnsafeBytes(of: UInt32(bytes.count)) { Array($0) } + bytes
        }

        static func receive(_ ms: Double, _ bytes: [UInt8], result: Int? = nil) -> NetworkEvent {
            NetworkEvent(kind: .receive, time: at(ms), fd: fd, result: Int64(result ?? bytes.count), data: bytes)
        }

        static let setUp: [NetworkEvent] = [
            NetworkEvent(kind: .lookupStart, time: at(1), data: Array("live.test\u{0}80".utf8)),
            NetworkEvent(kind: .lookupEnd, time: at(21), data: packed("127.0.0.1", 80)),
            NetworkEvent(kind: .connectStart, time: at(22), fd: fd, data: sockaddr("127.0.0.1", 80)),
            NetworkEvent(kind: .connectReturn, time: at(22), fd: fd, result: -1, error: EINPROGRESS),
            NetworkEvent(kind: .socketError, time: at(31), fd: fd),
            {
                let request = "GET /live/stream.flv HTTP/1.1\r\nHost: live.test\r\n\r\n"
                return NetworkEvent(
                    kind: .send,
                    time: at(32),
                    fd: fd,
                    result: Int64(request.utf8.count),
                    data: Array(request.utf8)
                )
            }(),
            receive(80, Array(head.utf8) + fileHeader),
            // The trace keeps the first bytes of a turn; the call's result says how many came.
            receive(150, [UInt8](repeating: 0, count: 16), result: 200),
        ]

        static let keyframe: [NetworkEvent] = [
            receive(400, [UInt8](repeating: 0, count: 16), result: 1000),
            receive(450, [UInt8](repeating: 0, count: 16), result: 2000),
        ]

        static var trace: NetworkTrace { NetworkTrace(start: at(0.5), end: at(500), events: setUp + keyframe) }

        /// The marks of an open that reached its first picture: probed at 120 ms, the streams known when the
        /// keyframe had been read (470 ms), the thresholds met at 480 ms, the picture at 495 ms.
        static var marks: StageTimeline.MediaMarks {
            var marks = StageTimeline.MediaMarks()
            marks.formatProbed = at(120)
            marks.streamInfoFound = at(470)
            marks.bufferReady = at(480)
            marks.firstVideoFrame = at(495)
            marks.packetsAt = [.formatProbe: 0, .streamInfo: 4, .buffering: 9, .decode: 9]
            return marks
        }

        static var media: ReportAssembler.Media {
            var media = ReportAssembler.Media(formatName: "flv")
            media.firstKeyframeRead = at(460)
            media.firstKeyframeBytes = keyframeBytes
            media.firstAudioFrame = at(497)
            return media
        }
    }

    static func assembler(
        trace: NetworkTrace = ColdEdgeFLV.trace,
        marks: StageTimeline.MediaMarks = ColdEdgeFLV.marks,
        media: ReportAssembler.Media = ColdEdgeFLV.media,
        failure: ReportAssembler.Failure? = nil,
        now: Double = 600,
        url: String = "http://user:secret@live.test/live/stream.flv"
    ) -> ReportAssembler {
        ReportAssembler(
            trace: trace,
            marks: marks,
            knobs: Preset.instant.knobs,
            url: url,
            presetName: "instant",
            origin: origin,
            startedAt: 1_700_000_000,
            media: media,
            failure: failure,
            now: at(now)
        )
    }

    private func stages(_ report: FirstFrameReport) -> [String] {
        report.stages.map { "\($0.name) \($0.startMs)–\($0.endMs)" }
    }

    private func causes(_ report: FirstFrameReport) -> [String] {
        (report.causes?.spans ?? []).map { "\($0.cause) \($0.startMs)–\($0.endMs)" }
    }

    // MARK: An open that succeeded

    @Test func stagesTileTheOpenFromTheHopsAndTheMarks() {
        let report = Self.assembler().report()
        #expect(report.outcome == .ok)
        #expect(report.error == nil)
        #expect(
            stages(report) == [
                "dns 0.0–21.0", "tcpConnect 21.0–31.0", "httpResponse 31.0–80.0", "formatProbe 80.0–120.0",
                "streamInfo 120.0–470.0", "buffering 470.0–480.0", "decode 480.0–495.0",
            ]
        )
        #expect(report.summary.firstVideoFrameMs == 495)
        #expect(report.summary[.streamInfo] == 350)
        // Bytes by span, from the receives: the head and file header by the response, the rest in streamInfo.
        let bytes = Dictionary(uniqueKeysWithValues: report.stages.map { ($0.name, $0.bytes) })
        #expect(bytes[.httpResponse] == Int64(ColdEdgeFLV.head.utf8.count + 13))
        #expect(bytes[.formatProbe] == 0)
        #expect(bytes[.streamInfo] == 3200)
        let packets = Dictionary(uniqueKeysWithValues: report.stages.map { ($0.name, $0.packets) })
        #expect(packets[.streamInfo] == 4 && packets[.buffering] == 5 && packets[.decode] == 0)
    }

    @Test func causesSplitTheSameTimeByWhenTheBytesArrived() throws {
        let report = Self.assembler().report()
        // The first tag after the FLV file header came at 150 ms; the keyframe's first byte (offset 213) at 400 ms
        // and its last (offset 2212) at 450 ms, though the demuxer handed it out at 460 ms.
        #expect(
            causes(report) == [
                "networkSetup 0.0–31.0", "serverResponse 31.0–150.0", "keyframeWait 150.0–400.0",
                "keyframeTransfer 400.0–450.0", "clientWait 450.0–480.0", "decode 480.0–495.0",
            ]
        )
        let breakdown = try #require(report.causes)
        #expect(breakdown.keyframeArrival == .network)
        #expect(breakdown[.keyframeWait] == 250)
        // What the client could have saved: everything but the set-up, the server's time and the keyframe wait.
        #expect(breakdown.clientAttributableMs == 95)
        // Each cause says where its time fell among the stages.
        let wait = try #require(breakdown.spans.first { $0.cause == .keyframeWait })
        #expect(wait.stages == [.streamInfo])
        #expect(
            breakdown.spans.first { $0.cause == .serverResponse }?.stages == [.httpResponse, .formatProbe, .streamInfo]
        )
    }

    @Test func milestonesAndHopsComeFromTheTrace() throws {
        let report = Self.assembler().report()
        #expect(report.milestones.firstByteMs == 80)
        // The keyframe's milestone is its last byte's arrival, not the demuxer's read.
        #expect(report.milestones.firstKeyframeMs == 450)
        #expect(report.milestones.firstVideoFrameMs == 495)
        #expect(report.milestones.firstAudioFrameMs == 497)
        #expect(report.hops.count == 1)
        let hop = try #require(report.hops.first)
        #expect(hop.host == "live.test")
        #expect(hop.status == 200)
        #expect(hop.dns?.startMs == 1 && hop.dns?.endMs == 21)
        #expect(hop.dns?.answers == ["127.0.0.1"])
        #expect(
            hop.connects.map { "\($0.address):\($0.port) \($0.startMs)–\($0.endMs ?? -1)" } == [
                "127.0.0.1:80 22.0–31.0"
            ]
        )
        #expect(hop.requestStartMs == 32 && hop.responseStartMs == 80)
        #expect(hop.tls == nil)
        // The report carries the request as given, credentials redacted.
        #expect(report.url == "http://***@live.test/live/stream.flv")
        #expect(report.preset == "instant" && report.startedAt == 1_700_000_000)
    }

    @Test func withoutTheKeyframesBytesTheDemuxersReadStandsIn() {
        // The keyframe's position unknown (a container without positions): its read time is all there is.
        var media = ColdEdgeFLV.media
        media.firstKeyframeBytes = nil
        let report = Self.assembler(media: media).report()
        #expect(report.causes?.keyframeArrival == .demuxer)
        #expect(report.milestones.firstKeyframeMs == 460)
        #expect(
            causes(report) == [
                "networkSetup 0.0–31.0", "serverResponse 31.0–150.0", "keyframeWait 150.0–460.0",
                "clientWait 460.0–480.0", "decode 480.0–495.0",
            ]
        )
    }

    @Test func theSameEvidenceGivesTheSameReport() {
        #expect(Self.assembler().report() == Self.assembler().report())
        // Nothing is read from the clock: a later `now` does not move what ended before it.
        #expect(Self.assembler(now: 9_000).report() == Self.assembler(now: 600).report())
    }

    // MARK: Opens that failed

    @Test func aDeadlineInStreamInfoEndsTheStagesAndTheCausesAtTheFailure() throws {
        var marks = StageTimeline.MediaMarks()
        marks.formatProbed = Self.at(120)
        var media = ReportAssembler.Media(formatName: "flv")
        media.firstKeyframeBytes = nil
        let report = Self.assembler(
            trace: NetworkTrace(start: Self.at(0.5), end: Self.at(520), events: ColdEdgeFLV.setUp),
            marks: marks,
            media: media,
            failure: .init(
                error: PipelineFailure(stage: .streamInfo, kind: .timeout, message: "streamInfo did not finish"),
                interruption: .init(deadlinePassed: true, deadline: "the streamInfo deadline (400.0 ms)")
            ),
            now: 520
        )
        .report()
        #expect(report.outcome == .failed)
        let error = try #require(report.error)
        #expect(error.stage == .streamInfo && error.kind == .timeout)
        #expect(error.message.contains("the streamInfo deadline (400.0 ms)"))
        #expect(stages(report).suffix(2) == ["formatProbe 80.0–120.0", "streamInfo 120.0–520.0"])
        #expect(report.summary.firstVideoFrameMs == nil)
        // The edge never sent the keyframe: from the first tag to the failure, the open waited for it.
        #expect(causes(report).suffix(2) == ["serverResponse 31.0–150.0", "keyframeWait 150.0–520.0"])
        #expect(report.milestones.firstKeyframeMs == nil && report.milestones.firstVideoFrameMs == nil)
    }

    @Test func aLookupThatFailedIsTheDNSStagesToTheEnd() throws {
        let events = [
            NetworkEvent(kind: .lookupStart, time: Self.at(1), data: Array("nowhere.test\u{0}80".utf8)),
            NetworkEvent(kind: .lookupEnd, time: Self.at(30), result: Int64(EAI_NONAME)),
        ]
        let report = Self.assembler(
            trace: NetworkTrace(start: Self.at(0.5), end: Self.at(31), events: events),
            marks: .init(),
            media: .init(),
            failure: .init(error: FFmpegError(code: -EIO, operation: "avformat_open_input")),
            now: 31
        )
        .report()
        let error = try #require(report.error)
        #expect(error.stage == .dns && error.kind == .dns)
        #expect(error.message.hasPrefix("nowhere.test: "))
        #expect(stages(report) == ["dns 0.0–31.0"])
        #expect(report.causes?.spans.map(\.cause) == [.networkSetup])
        #expect(report.causes?.spans.first?.hop == 0)
        #expect(report.hops.first?.dns?.error != nil)
        #expect(report.hops.first?.status == nil)
    }

    @Test func aStreamThatHasNoVideoFailsInStreamInfo() throws {
        var marks = StageTimeline.MediaMarks()
        marks.formatProbed = Self.at(120)
        let report = Self.assembler(
            trace: NetworkTrace(start: Self.at(0.5), end: Self.at(300), events: ColdEdgeFLV.setUp),
            marks: marks,
            media: .init(formatName: "flv"),
            failure: .init(error: PipelineFailure(stage: .streamInfo, kind: .noVideo, message: "no video")),
            now: 300
        )
        .report()
        #expect(report.error?.stage == .streamInfo && report.error?.kind == .noVideo)
        #expect(report.error?.message == "no video")
        #expect(stages(report).last == "streamInfo 120.0–300.0")
    }

    // MARK: A file

    @Test func aFileHasNoNetworkStagesAndItsBytesComeFromTheInputsCounter() throws {
        var marks = StageTimeline.MediaMarks()
        marks.formatProbed = Self.at(3)
        marks.streamInfoFound = Self.at(40)
        marks.bufferReady = Self.at(41)
        marks.firstVideoFrame = Self.at(45)
        marks.bytesAt = [.formatProbe: 2048, .streamInfo: 100_000, .buffering: 100_000, .decode: 100_000]
        marks.packetsAt = [.formatProbe: 0, .streamInfo: 30, .buffering: 30, .decode: 30]
        var media = ReportAssembler.Media(formatName: "flv")
        media.firstKeyframeRead = Self.at(30)
        media.firstKeyframeBytes = 1000..<5000
        media.videoIndex = 0
        media.pictureWidth = 1280
        media.pictureHeight = 720
        // Without avformat_find_stream_info the video stream's parameters have no size: the picture has one.
        media.streams = try JSONDecoder().decode([StreamInfo].self, from: Data(Self.streamsJSON.utf8))
        let report = Self.assembler(
            trace: NetworkTrace(start: Self.at(0), end: Self.at(45), events: []),
            marks: marks,
            media: media,
            url: "/tmp/recording.flv"
        )
        .report()
        #expect(
            stages(report) == [
                "formatProbe 0.0–3.0", "streamInfo 3.0–40.0", "buffering 40.0–41.0", "decode 41.0–45.0",
            ]
        )
        #expect(report.stages.map(\.bytes) == [2048, 97_952, 0, 0])
        #expect(report.hops.isEmpty && report.milestones.firstByteMs == nil)
        // No network: reading up to the keyframe is the client's own work, the demuxer's read its arrival.
        #expect(causes(report) == ["clientWait 0.0–41.0", "decode 41.0–45.0"])
        #expect(report.causes?.keyframeArrival == .demuxer)
        let video = try #require(report.streams.first { $0.type == .video })
        #expect(video.width == 1280 && video.height == 720 && video.codec == "h264")
        let audio = try #require(report.streams.first { $0.type == .audio })
        #expect(audio.sampleRate == 44_100 && audio.width == nil)
    }

    static let streamsJSON = """
        [{"index":0,"kind":"video","codec":"h264","width":0,"height":0,"sampleRate":0,"channels":0,"frameRate":0,
          "timeBaseNumerator":1,"timeBaseDenominator":1000,"format":"none","extradataSize":40},
         {"index":1,"kind":"audio","codec":"aac","width":0,"height":0,"sampleRate":44100,"channels":2,"frameRate":0,
          "timeBaseNumerator":1,"timeBaseDenominator":1000,"format":"fltp","extradataSize":2}]
        """
}
