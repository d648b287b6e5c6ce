import CFFmpeg
import CNetworkHooks
import FirstFrame
import Testing

#if canImport(Glibc)
import Glibc
import FirstFrameNetwork
import FirstFrameFFmpeg
#endif

/// The failure classification as a table: evidence (trace events, media marks, error, interrupter state) in,
/// stage and kind out. Each row is a situation the loopback tests produce for real; here it is pinned down.
@Suite struct FailureClassificationTable {
    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var events: [NetworkEvent]
        var formatProbed = false
        var streamInfoFound = false
        var error: any Error & Sendable
        var interruption = FailureClassification.Interruption()
        var stage: Stage
        var kind: FirstFrameReport.Failure.Kind
        /// A fragment the message must contain, when the row cares.
        var message: String?

        var testDescription: String { name }
    }

    static func sockaddr(_ address: String, _ port: Int) -> [UInt8] {
        var storage = SocketAddress(address: IPAddress(address)!, port: port).storage
        return withUnsafeBytes(of: &storage) { Array($0.prefix(16)) }
    }

    static func lookup(_ host: String, eai: Int32 = 0, detail: cnh_lookup_detail = CNH_DETAIL_NONE) -> [NetworkEvent] {
        [
            NetworkEvent(kind: .lookupStart, time: 1, data: Array("\(host)\u{0}80".utf8)),
            NetworkEvent(
                kind: .lookupEnd,
                time: 2,
                result: Int64(eai),
                error: Int32(detail.rawValue),
                aux: Int32(CNH_SOURCE_RESOLVER.rawValue)
            ),
        ]
    }

    static func connect(fd: Int32 = 7, refused: Bool = false) -> [NetworkEvent] {
        [
            NetworkEvent(kind: .connectStart, time: 3, fd: fd, data: sockaddr("127.0.0.1", 80)),
            NetworkEvent(kind: .connectReturn, time: 4, fd: fd, result: -1, error: EINPROGRESS),
            NetworkEvent(kind: .socketError, time: 5, fd: fd, error: refused ? ECONNREFUSED : 0),
        ]
    }

    static func request(fd: Int32 = 7) -> NetworkEvent {
        let text = "GET /live/stream.flv HTTP/1.1\r\nHost: stream.test\r\n\r\n"
        return NetworkEvent(kind: .send, time: 6, fd: fd, result: Int64(text.utf8.count), data: Array(text.utf8))
    }

    static func response(_ head: String, fd: Int32 = 7, at time: UInt64 = 8) -> NetworkEvent {
        NetworkEvent(kind: .receive, time: time, fd: fd, result: Int64(head.utf8.count), data: Array(head.utf8))
    }

    static let served = lookup("stream.test") + connect() + [request(), response("HTTP/1.1 200 OK\r\n\r\nFLV")]
    static let eio = FFmpegError(code: -EIO, operation: "av_read_frame")

    static let rows: [Row] = [
        Row(
            name: "lookup past its deadline",
            events: lookup("stream.test", eai: EAI_AGAIN, detail: CNH_DETAIL_TIMED_OUT),
            error: FFmpegError(code: -EIO, operation: "avformat_open_input"),
            stage: .dns,
            kind: .timeout
        ),
        Row(
            name: "lookup cancelled",
            events: lookup("stream.test", eai: EAI_AGAIN, detail: CNH_DETAIL_CANCELLED),
            error: FFmpegError(code: -EIO, operation: "avformat_open_input"),
            stage: .dns,
            kind: .cancelled
        ),
        Row(
            name: "unknown host",
            events: lookup("nowhere.test", eai: EAI_NONAME),
            error: FFmpegError(code: -EIO, operation: "avformat_open_input"),
            stage: .dns,
            kind: .dns,
            message: "nowhere.test"
        ),
        Row(
            name: "connection refused",
            events: lookup("stream.test") + connect(refused: true),
            error: FFmpegError(code: -ECONNREFUSED, operation: "avformat_open_input"),
            stage: .tcpConnect,
            kind: .connect,
            message: "127.0.0.1"
        ),
        Row(
            name: "TLS handshake never finished",
            events: lookup("stream.test") + connect() + [NetworkEvent(kind: .tlsHandshakeStart, time: 6, fd: -100)],
            error: FFmpegError(code: -EIO, operation: "avformat_open_input"),
            stage: .tls,
            kind: .tls
        ),
        Row(
            name: "404 named by FFmpeg",
            events: lookup("stream.test") + connect() + [request(), response("HTTP/1.1 404 Not Found\r\n\r\n")],
            error: FFmpegError(code: .httpNotFound, operation: "avformat_open_input"),
            stage: .httpResponse,
            kind: .http,
            message: "404"
        ),
        Row(
            name: "503: FFmpeg says 5xx, the trace says which",
            events: lookup("stream.test") + connect() + [request(), response("HTTP/1.1 503 Busy\r\n\r\n")],
            error: FFmpegError(code: .httpServerError, operation: "avformat_open_input"),
            stage: .httpResponse,
            kind: .http,
            message: "503"
        ),
        Row(
            name: "not a stream",
            events: served,
            error: FFmpegError(code: .invalidData, operation: "avformat_open_input"),
            stage: .formatProbe,
            kind: .invalidData
        ),
        Row(
            name: "body cut short: EIO and the peer's EOF",
            events: served + [NetworkEvent(kind: .receive, time: 9, fd: 7, result: 0)],
            formatProbed: true,
            streamInfoFound: true,
            error: eio,
            stage: .buffering,
            kind: .endOfStream
        ),
        Row(
            name: "EIO without an EOF is FFmpeg's",
            events: served,
            formatProbed: true,
            error: eio,
            stage: .streamInfo,
            kind: .ffmpeg
        ),
        Row(
            name: "cancelled while reading",
            events: served,
            formatProbed: true,
            error: FFmpegError(code: .interrupted, operation: "av_read_frame"),
            interruption: .init(cancelled: true),
            stage: .streamInfo,
            kind: .cancelled
        ),
        Row(
            name: "deadline passed while buffering",
            events: served,
            formatProbed: true,
            streamInfoFound: true,
            error: FFmpegError(code: .interrupted, operation: "av_read_frame"),
            interruption: .init(deadlinePassed: true),
            stage: .buffering,
            kind: .timeout,
            message: "deadline"
        ),
        Row(
            name: "no video stream",
            events: served,
            formatProbed: true,
            streamInfoFound: true,
            error: PipelineFailure(stage: .streamInfo, kind: .noVideo, message: "the input has no video stream"),
            stage: .buffering,
            kind: .noVideo,
            message: "no video"
        ),
        Row(
            name: "the input ended while stream info was read",
            events: served,
            formatProbed: true,
            error: PipelineFailure(stage: .streamInfo, kind: .endOfStream, message: "ended"),
            stage: .streamInfo,
            kind: .endOfStream
        ),
        Row(
            name: "a file: no trace at all",
            events: [],
            error: FFmpegError(code: .invalidData, operation: "avformat_open_input"),
            stage: .formatProbe,
            kind: .invalidData
        ),
    ]

    @Test(arguments: rows)
    func classifies(_ row: Row) {
        var marks = StageTimeline.MediaMarks()
        if row.formatProbed { marks.formatProbed = 10 }
        if row.streamInfoFound { marks.streamInfoFound = 11 }
        let trace = NetworkTrace(start: 0, end: 20, events: row.events)
        let failure = FailureClassification.classify(
            trace: trace,
            marks: marks,
            error: row.error,
            interruption: row.interruption
        )
        #expect(failure.stage == row.stage)
        #expect(failure.kind == row.kind)
        if let fragment = row.message { #expect(failure.message.contains(fragment), "\(failure.message)") }
    }
}
