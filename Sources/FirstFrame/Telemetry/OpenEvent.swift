import FirstFrameNetwork
import Foundation

/// One thing that happened during an open or to a kept stream, on the report's clock: what ijkplayer's
/// `FFP_MSG_*`, Media3's `AnalyticsListener` and AVFoundation's `AVMetricEventStream` tell a player as it plays.
///
/// Events come as they happen, from ``StreamOpener/openWithEvents(_:bufferingNewest:)`` (or
/// ``StreamOpener/open(_:onEvent:)``), then from the kept stream's ``OpenedStream/events(stallAfter:bufferingNewest:)``
/// and a recorder's ``Recorder/events(stallAfter:bufferingNewest:)``. Their times are the report's: `ms` of a
/// ``Kind/lookupFinished(host:source:answers:error:)`` is the hop's `dns.endMs`, of ``Kind/firstPicture(width:height:)`` the
/// report's `summary.firstVideoFrameMs`, and so on for each kind (see each case).
///
/// An open's events, in the order they are delivered:
///
/// ```
/// lookupStarted → lookupFinished → connectStarted → connectFinished (one pair per address tried)
///   → tlsStarted → tlsFinished → requestSent → responseStarted        (per hop: a redirect is a new hop)
///   → formatProbed → streamsKnown → firstKeyframe → firstPicture → firstAudioFrame
///   (or openFailed, last, wherever the open stopped)
/// ```
///
/// with `bufferReady` after `streamsKnown` and before `firstPicture` (before `firstKeyframe` when the knobs set no
/// buffering thresholds: the buffer is ready before a keyframe is read). A `firstKeyframe` the demuxer handed out
/// before the streams were all known (FLV read without `avformat_find_stream_info`, where the keyframe is what
/// makes the video known) waits for `streamsKnown`, so that the order above holds.
///
/// then the kept stream's: `stallStarted` / `stallEnded` any number of times, and `ended` once.
///
/// Events are delivered as soon as the opener learns of them, which for the network is at FFmpeg's next interrupt
/// poll (at least every 100 ms while it waits on a socket) or the next media milestone: their `ms` is when they
/// happened, taken from the network trace's own times, not when they were delivered. Two consequences: FFmpeg's
/// `getaddrinfo` never polls, so a lookup's start is delivered with its end, once the lookup returns; and a
/// ``Kind/firstKeyframe(readMs:arrivedMs:)`` whose bytes arrived long before the demuxer handed the packet out
/// carries that earlier arrival time as its `ms`, which may be earlier than the ``Kind/streamsKnown(_:)`` delivered
/// before it.
public struct OpenEvent: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Milliseconds from the moment the open was asked for (for a kept stream's events too: the clock of the open
    /// that produced the stream).
    public var ms: Double
    /// The index in the report's `hops` of the request the event belongs to, for network events; nil for the
    /// others.
    public var hop: Int?
    /// What happened.
    public var kind: Kind

    public init(ms: Double, hop: Int? = nil, kind: Kind) {
        self.ms = ms
        self.hop = hop
        self.kind = kind
    }

    /// What happened, with what there is to know about it.
    public enum Kind: Sendable, Equatable, Codable {
        // MARK: Network, per hop

        /// A `getaddrinfo` for `host` started (`ms`: the hop's `dns.startMs`). `port` is the service asked for.
        case lookupStarted(host: String, port: Int?)
        /// The lookup returned (`ms`: `dns.endMs`): where the answer came from, the addresses, or the error.
        case lookupFinished(host: String, source: DomainLookup.Source, answers: [String], error: String?)
        /// A `connect()` to one address started (`ms`: that attempt's `startMs` in the hop's `connects`).
        case connectStarted(address: String, port: Int)
        /// The attempt ended (`ms`: its `endMs`): connected, failed (with the kernel's error, e.g. "Connection
        /// refused"), or abandoned (another attempt won the race, or the caller gave up).
        case connectFinished(address: String, port: Int, outcome: ConnectAttempt.Outcome, error: String?)
        /// The TLS handshake started (`ms`: the hop's `tls.startMs`).
        case tlsStarted
        /// The handshake ended (`ms`: `tls.endMs` when it succeeded): whether it resumed an earlier session, or
        /// gnutls' error.
        case tlsFinished(resumed: Bool?, error: String?)
        /// The request's first byte was handed to the kernel (`ms`: `requestStartMs`). `url` is the one requested
        /// (credentials redacted, as in the report); nil for a connection that does not carry HTTP (RTMP).
        case requestSent(url: String?)
        /// The response's first byte arrived (`ms`: `responseStartMs`). Delivered once the HTTP head is complete,
        /// with its status line, status and redirect target; nil for what is not HTTP (RTMP's handshake reply)
        /// or a head that never completed.
        case responseStarted(status: Int?, statusLine: String?, redirectTo: String?)

        // MARK: Media, during the open

        /// `avformat_open_input` returned (`ms`: the `formatProbe` stage's end): the demuxer FFmpeg chose.
        case formatProbed(format: String)
        /// The streams' parameters are known (`ms`: the `streamInfo` stage's end), as the report lists them (picture
        /// sizes a preset skipped may still be missing: the report fills them from the first picture).
        case streamsKnown([FirstFrameReport.Stream])
        /// The first video keyframe was read from the demuxer at `readMs`; `arrivedMs` is when its last byte
        /// arrived from the network, when the trace can tell (plain HTTP and HTTPS, RTMP). `ms` is the report's
        /// `milestones.firstKeyframeMs`: the arrival when known, else the read.
        case firstKeyframe(readMs: Double, arrivedMs: Double?)
        /// The buffering thresholds were met (`ms`: the `buffering` stage's end).
        case bufferReady
        /// The first picture came out of the decoder (`ms`: `summary.firstVideoFrameMs`); `width`×`height`.
        case firstPicture(width: Int, height: Int)
        /// The first audio frame was decoded (`ms`: `milestones.firstAudioFrameMs`), just after the picture.
        case firstAudioFrame
        /// The open failed (`ms`: where the report's last stage ends), with the report's error. The last event
        /// of a failed open.
        case openFailed(FirstFrameReport.Failure)

        // MARK: The kept stream

        /// No packet has come for the stall threshold: a read from the input has been blocked since
        /// `waitingSinceMs` (`ms`: when the threshold passed). Ends with ``stallEnded(durationMs:)`` or with the
        /// stream's ``ended(_:)``.
        case stallStarted(waitingSinceMs: Double)
        /// A packet came after a stall (`ms`: when the read returned it); `durationMs` counts from the start of
        /// the wait.
        case stallEnded(durationMs: Double)
        /// A recorder opens its stream again (`ms`: 0, the start of the new open, whose events follow on their
        /// own clock): attempt `attempt` (2 for the first reconnect), after waiting `waitedMs` (the reconnect
        /// policy's back-off).
        case reconnecting(attempt: Int, waitedMs: Double)
        /// The kept stream ended: closed, the input's end, a stall past the read timeout, a dropped connection
        /// or a failure. The last event of a kept stream.
        case ended(StreamEnd)
    }

    /// Whether the event belongs to the network (a hop's lookup, connects, TLS, request or response).
    public var isNetwork: Bool { hop != nil }

    /// `   12.3 ms hop 0 lookup finished: stream.test from cache → 127.0.0.1`: the time, the hop of a network
    /// event, and the event in words (``Kind/description``).
    public var description: String {
        let time = String(format: "%9.1f ms", ms)
        let where_ = hop.map { " hop \($0)" } ?? ""
        return "\(time)\(where_) \(kind)"
    }
}

extension OpenEvent.Kind {
    /// The case's name (`lookupStarted`, `firstPicture`, …): a stable identifier for filtering and counting, as the
    /// JSON encoding names the case.
    public var name: String {
        switch self {
        case .lookupStarted: "lookupStarted"
        case .lookupFinished: "lookupFinished"
        case .connectStarted: "connectStarted"
        case .connectFinished: "connectFinished"
        case .tlsStarted: "tlsStarted"
        case .tlsFinished: "tlsFinished"
        case .requestSent: "requestSent"
        case .responseStarted: "responseStarted"
        case .formatProbed: "formatProbed"
        case .streamsKnown: "streamsKnown"
        case .firstKeyframe: "firstKeyframe"
        case .bufferReady: "bufferReady"
        case .firstPicture: "firstPicture"
        case .firstAudioFrame: "firstAudioFrame"
        case .openFailed: "openFailed"
        case .stallStarted: "stallStarted"
        case .stallEnded: "stallEnded"
        case .reconnecting: "reconnecting"
        case .ended: "ended"
        }
    }
}

extension OpenEvent.Kind: CustomStringConvertible {
    /// The event in words, with what it carries and nothing it does not (no `nil`, no `Optional(…)`, no module
    /// names): `connect to 127.0.0.1 port 80 failed: Connection refused`, `first picture 640×360`.
    public var description: String {
        func milliseconds(_ value: Double) -> String { String(format: "%.1f ms", value) }
        switch self {
        case .lookupStarted(let host, let port):
            return "lookup started: \(host)" + (port.map { " port \($0)" } ?? "")
        case .lookupFinished(let host, let source, let answers, let error):
            if let error { return "lookup of \(host) failed (\(source)): \(error)" }
            return "lookup finished: \(host) from \(source)"
                + (answers.isEmpty ? "" : " → " + answers.joined(separator: ", "))
        case .connectStarted(let address, let port):
            return "connect started: \(address) port \(port)"
        case .connectFinished(let address, let port, let outcome, let error):
            let target = "\(address) port \(port)"
            switch outcome {
            case .connected: return "connected to \(target)"
            case .failed: return "connect to \(target) failed" + (error.map { ": \($0)" } ?? "")
            case .abandoned: return "connect to \(target) abandoned" + (error.map { ": \($0)" } ?? "")
            case .pending: return "connect to \(target) still pending"
            }
        case .tlsStarted:
            return "TLS handshake started"
        case .tlsFinished(let resumed, let error):
            if let error { return "TLS handshake failed: \(error)" }
            return "TLS handshake finished" + (resumed.map { $0 ? " (session resumed)" : " (full handshake)" } ?? "")
        case .requestSent(let url):
            return "request sent" + (url.map { ": \($0)" } ?? "")
        case .responseStarted(let status, let statusLine, let redirectTo):
            var text = "response started"
            if let statusLine { text += ": \(statusLine)" } else if let status { text += ": status \(status)" }
            if let redirectTo { text += " → \(redirectTo)" }
            return text
        case .formatProbed(let format):
            return "format probed: \(format)"
        case .streamsKnown(let streams):
            return "streams known: " + (streams.isEmpty ? "none" : streams.map(\.description).joined(separator: ", "))
        case .firstKeyframe(let readMs, let arrivedMs):
            return "first keyframe read at \(milliseconds(readMs))"
                + (arrivedMs.map { ", arrived at \(milliseconds($0))" } ?? "")
        case .bufferReady:
            return "buffer ready"
        case .firstPicture(let width, let height):
            return "first picture \(width)×\(height)"
        case .firstAudioFrame:
            return "first audio frame"
        case .openFailed(let failure):
            return "open failed: \(failure)"
        case .stallStarted(let waitingSinceMs):
            return "stall started (no packet since \(milliseconds(waitingSinceMs)))"
        case .stallEnded(let durationMs):
            return "stall ended after \(milliseconds(durationMs))"
        case .reconnecting(let attempt, let waitedMs):
            return "reconnecting: attempt \(attempt) after waiting \(milliseconds(waitedMs))"
        case .ended(let end):
            return "ended: \(end)"
        }
    }
}
