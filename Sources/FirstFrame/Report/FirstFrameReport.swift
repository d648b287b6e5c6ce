import FirstFrameFFmpeg
import FirstFrameNetwork

/// Where the time to the first frame went, for one open: JSON schema 2, camelCase, milliseconds from the moment
/// the open was asked for, all on one monotonic clock.
public struct FirstFrameReport: Sendable, Codable, Hashable {
    public static let schemaVersion = 2

    /// Whether the open reached its first picture (`ok`) or not (`failed`).
    public enum Outcome: String, Sendable, Codable { case ok, failed }

    /// What went wrong, and in which stage; the rest of the report keeps what was reached.
    public struct Failure: Sendable, Codable, Hashable {
        /// What kind of failure it was.
        public enum Kind: String, Sendable, Codable {
            case dns, connect, tls, http, timeout, cancelled, invalidData, endOfStream, noVideo, decoder, invalidKnob,
                ffmpeg
            /// The URL was refused before any I/O: empty host, bad port, unknown scheme, longer than FFmpeg keeps.
            case invalidURL
            /// The URL, or a URL the input led to (a redirect, a playlist entry), uses a protocol outside
            /// ``TuningKnobs/allowedProtocols``; or a local input that would block (a FIFO, a device).
            case protocolNotAllowed
            /// A redirect loop, more redirects than FFmpeg follows, or a redirect without a usable `Location`.
            case redirect
            /// The open made more requests than ``TuningKnobs/maxRequests`` (a playlist that refers to itself).
            case requestLimit
            /// The packets queued before the first picture reached ``TuningKnobs/maxBufferBytes`` without a
            /// decodable picture (an announced stream that never arrives is ``noVideo`` instead).
            case bufferLimit
        }

        public var stage: Stage
        public var kind: Kind
        public var message: String

        public init(stage: Stage, kind: Kind, message: String) {
            self.stage = stage
            self.kind = kind
            self.message = message
        }
    }

    /// Per-stage totals (a stage that repeats, as the network stages do on a redirect, is summed; 0 when it did
    /// not occur) and the first frame (nil when not reached).
    public struct Summary: Sendable, Codable, Hashable {
        public var dnsMs: Double = 0
        public var tcpConnectMs: Double = 0
        public var tlsMs: Double = 0
        public var httpResponseMs: Double = 0
        public var formatProbeMs: Double = 0
        public var streamInfoMs: Double = 0
        public var bufferingMs: Double = 0
        public var decodeMs: Double = 0
        public var firstVideoFrameMs: Double?

        public subscript(stage: Stage) -> Double {
            get {
                switch stage {
                case .dns: dnsMs
                case .tcpConnect: tcpConnectMs
                case .tls: tlsMs
                case .httpResponse: httpResponseMs
                case .formatProbe: formatProbeMs
                case .streamInfo: streamInfoMs
                case .buffering: bufferingMs
                case .decode: decodeMs
                }
            }
            set {
                switch stage {
                case .dns: dnsMs = newValue
                case .tcpConnect: tcpConnectMs = newValue
                case .tls: tlsMs = newValue
                case .httpResponse: httpResponseMs = newValue
                case .formatProbe: formatProbeMs = newValue
                case .streamInfo: streamInfoMs = newValue
                case .buffering: bufferingMs = newValue
                case .decode: decodeMs = newValue
                }
            }
        }
    }

    /// When the first byte, first keyframe, first picture and first audio frame came (nil when not reached).
    public struct Milestones: Sendable, Codable, Hashable {
        /// The first byte of the (last hop's) response.
        public var firstByteMs: Double?
        /// When the first video keyframe's last byte arrived (from the network trace, plain HTTP), which can be long
        /// before FFmpeg hands the packet out; over TLS and for files, when the demuxer handed it out.
        public var firstKeyframeMs: Double?
        public var firstVideoFrameMs: Double?
        public var firstAudioFrameMs: Double?
    }

    /// One interval of the timeline; consecutive entries share their boundary.
    public struct StageSpan: Sendable, Codable, Hashable {
        public var name: Stage
        public var startMs: Double
        public var endMs: Double
        /// Bytes read from the network (or file) during the stage, and demuxed packets.
        public var bytes: Int64 = 0
        public var packets: Int = 0
        /// What the stage's time was when its name alone would mislead: a `dns` stage with no lookup (the host was
        /// an address literal) is FFmpeg's set-up before its first connect.
        public var note: String?

        public init(
            name: Stage,
            startMs: Double,
            endMs: Double,
            bytes: Int64 = 0,
            packets: Int = 0,
            note: String? = nil
        ) {
            self.name = name
            self.startMs = startMs
            self.endMs = endMs
            self.bytes = bytes
            self.packets = packets
            self.note = note
        }

        public var durationMs: Double { endMs - startMs }
    }

    /// One request on the network (a redirect is a new hop), in the report's milliseconds.
    public struct Hop: Sendable, Codable, Hashable {
        /// The hop's DNS lookup: host, timing, what answered and with which addresses.
        public struct Lookup: Sendable, Codable, Hashable {
            public var host: String
            public var startMs: Double
            public var endMs: Double?
            public var source: DomainLookup.Source
            public var answers: [String]
            public var error: String?
            /// Which answer the DNS cache put first and why, with every address's average connect time (nil when
            /// no cache answered, or for reports written before ranking).
            public var edge: EdgeChoice? = nil
            /// True when the DNS cache's hedged second query answered (the first was lost or slow: `lookupHedgeMs`);
            /// nil otherwise.
            public var answeredByHedge: Bool? = nil
        }

        /// One connect attempt of the hop.
        public struct Connect: Sendable, Codable, Hashable {
            public var address: String
            public var port: Int
            public var startMs: Double
            public var endMs: Double?
            public var outcome: ConnectAttempt.Outcome
            public var error: String?
            /// True when the hooks handed this connect an established warm connection (a spare the open made, or
            /// one `WarmConnections` prepared): no handshake, 0 round trips. Nil for an ordinary connect.
            public var warm: Bool? = nil
            /// For a warm connect: how long before it that connection's own connect started.
            public var warmAgeMs: Double? = nil
            /// The hedge raced against this attempt (`connectHedgeMs`), and which one connected first.
            public var hedge: Hedge? = nil
        }

        /// A second connect raced against a slow one.
        public struct Hedge: Sendable, Codable, Hashable {
            public var startMs: Double
            public var endMs: Double?
            /// `hedge` when the hedge connected first (the attempt's end is then the hedge's), `original` when the
            /// first attempt did, `failed`/`abandoned` otherwise; nil when the trace ended first.
            public var winner: ConnectAttempt.Hedge.Outcome?
            public var error: String?
        }

        /// A start and (when it came) an end, such as the TLS handshake's.
        public struct Interval: Sendable, Codable, Hashable {
            public var startMs: Double
            public var endMs: Double?
        }

        public var url: String?
        public var host: String?
        public var dns: Lookup?
        public var connects: [Connect]
        public var tls: Interval?
        public var requestStartMs: Double?
        public var responseStartMs: Double?
        public var status: Int?
        public var redirectTo: String?
        /// The request went out on a connection an earlier hop opened (keep-alive): no lookup, no connect.
        public var reusedConnection: Bool = false
        /// Whether the TLS handshake resumed an earlier session (nil: no handshake on this hop). FFmpeg 5.1 keeps
        /// no sessions between connections, so through it this is always false: every HTTPS connection pays a
        /// full handshake.
        public var tlsResumed: Bool?
        /// HLS: what the hop fetched (master or media playlist, segment), nil for other inputs.
        public var role: NetworkHop.Role?
        /// A media playlist's reading: target duration, segments, live or not.
        public var playlist: Playlist?
        /// A segment's place: its duration, and how far behind the live edge it was when the player took it.
        public var segment: Segment?
        /// RTMP: the hop's handshake and command exchange read from its chunk stream, with the stalls in them.
        public var rtmp: RTMPTimeline?
        /// The TLS version the handshake negotiated (`1.2`, `1.3`); nil without one.
        public var tlsVersion: String?
        /// The hop's connection as the kernel saw it (`TCP_INFO`): RTT, retransmissions, out-of-order arrivals.
        public var transport: Transport?

        private enum CodingKeys: String, CodingKey {
            case url, host, dns, connects, tls, requestStartMs, responseStartMs, status, redirectTo, reusedConnection
            case tlsResumed, role, playlist, segment, rtmp, tlsVersion, transport
        }

        /// Schema 1 hops (no `reusedConnection`) decode as not reused.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            url = try container.decodeIfPresent(String.self, forKey: .url)
            host = try container.decodeIfPresent(String.self, forKey: .host)
            dns = try container.decodeIfPresent(Lookup.self, forKey: .dns)
            connects = try container.decode([Connect].self, forKey: .connects)
            tls = try container.decodeIfPresent(Interval.self, forKey: .tls)
            requestStartMs = try container.decodeIfPresent(Double.self, forKey: .requestStartMs)
            responseStartMs = try container.decodeIfPresent(Double.self, forKey: .responseStartMs)
            status = try container.decodeIfPresent(Int.self, forKey: .status)
            redirectTo = try container.decodeIfPresent(String.self, forKey: .redirectTo)
            reusedConnection = try container.decodeIfPresent(Bool.self, forKey: .reusedConnection) ?? false
            tlsResumed = try container.decodeIfPresent(Bool.self, forKey: .tlsResumed)
            role = try container.decodeIfPresent(NetworkHop.Role.self, forKey: .role)
            playlist = try container.decodeIfPresent(Playlist.self, forKey: .playlist)
            segment = try container.decodeIfPresent(Segment.self, forKey: .segment)
            rtmp = try container.decodeIfPresent(RTMPTimeline.self, forKey: .rtmp)
            tlsVersion = try container.decodeIfPresent(String.self, forKey: .tlsVersion)
            transport = try container.decodeIfPresent(Transport.self, forKey: .transport)
        }
    }

    /// An HLS media or master playlist as the hop's response had it.
    public struct Playlist: Sendable, Codable, Hashable {
        /// A master playlist's variant and the hop that fetched its media playlist (nil: never fetched).
        public struct Variant: Sendable, Codable, Hashable {
            public var bandwidth: Int?
            public var resolution: String?
            public var uri: String
            public var playlistHop: Int?
        }

        public var variants: [Variant]
        public var targetDurationSeconds: Double?
        public var segmentCount: Int
        public var durationSeconds: Double
        /// No `#EXT-X-ENDLIST`: a live playlist.
        public var isLive: Bool
        /// False when the trace did not capture the whole playlist.
        public var isComplete: Bool
    }

    /// An HLS segment fetched by the hop.
    public struct Segment: Sendable, Codable, Hashable {
        public var sequence: Int
        public var durationSeconds: Double
        /// Its position from the playlist's end (-1: the last segment, as FFmpeg's `live_start_index` counts).
        public var indexFromEnd: Int?
        /// Seconds of media from its start to the live edge: this segment and those after it.
        public var secondsFromLiveEdge: Double?
    }

    /// One stream of the input as the open left it: codec, and picture size or sample rate.
    public struct Stream: Sendable, Codable, Hashable {
        public var index: Int
        public var type: StreamInfo.Kind
        public var codec: String
        public var width: Int?
        public var height: Int?
        public var sampleRate: Int?
    }

    public var schema = FirstFrameReport.schemaVersion
    /// When the open was asked for, in seconds since 1970 (the wall clock, for telemetry backends; every other
    /// time in the report is milliseconds from this moment on the monotonic clock).
    public var startedAt: Double?
    public var url: String
    public var preset: String?
    public var knobs: TuningKnobs
    public var outcome: Outcome
    public var error: Failure?
    public var summary: Summary
    public var milestones: Milestones
    public var stages: [StageSpan]
    public var hops: [Hop]
    public var streams: [Stream]
    /// Whether the TLS peer's certificate chain and name were verified against the trusted CAs: nil when the open
    /// made no TLS connection (or did not get as far), false when ``TuningKnobs/verifyTLS`` was off.
    public var tlsPeerVerified: Bool?
    /// The time to the first picture (or to the failure) split by why it passed, on every server the same way.
    public var causes: CauseBreakdown?
    /// What would remove the causes that cost most, one line each.
    public var advice: [Advice] = []
    /// How the decoder reached the first picture (nil when the open did not get that far).
    public var firstPictureDecode: FirstPictureDecode?
    /// The open against the least time its link allowed: round trips needed and spent, the keyframe under slow
    /// start (nil on loopback, or without a sampled connection).
    public var floor: Floor?
    /// For an open through a ``StreamPreloader``: the state the room was in and the switch time.
    public var preload: Preload?

    public init(url: String, preset: String?, knobs: TuningKnobs) {
        self.url = url
        self.preset = preset
        self.knobs = knobs
        self.outcome = .failed
        self.summary = Summary()
        self.milestones = Milestones()
        self.stages = []
        self.hops = []
        self.streams = []
    }

    // `error` is written as null when there is none, as the schema says (synthesised Codable would omit it).
    private enum CodingKeys: String, CodingKey {
        case schema, startedAt, url, preset, knobs, outcome, error, summary, milestones, stages, hops, streams,
            tlsPeerVerified, causes, advice
        case firstPictureDecode, floor, preload
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(schema, forKey: .schema)
        try container.encodeIfPresent(startedAt, forKey: .startedAt)
        try container.encode(url, forKey: .url)
        try container.encode(preset, forKey: .preset)
        try container.encode(knobs, forKey: .knobs)
        try container.encode(outcome, forKey: .outcome)
        try container.encode(error, forKey: .error)
        try container.encode(summary, forKey: .summary)
        try container.encode(milestones, forKey: .milestones)
        try container.encode(stages, forKey: .stages)
        try container.encode(hops, forKey: .hops)
        try container.encode(streams, forKey: .streams)
        try container.encode(tlsPeerVerified, forKey: .tlsPeerVerified)
        try container.encode(causes, forKey: .causes)
        try container.encode(advice, forKey: .advice)
        try container.encodeIfPresent(firstPictureDecode, forKey: .firstPictureDecode)
        try container.encodeIfPresent(floor, forKey: .floor)
        try container.encodeIfPresent(preload, forKey: .preload)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        schema = try container.decode(Int.self, forKey: .schema)
        startedAt = try container.decodeIfPresent(Double.self, forKey: .startedAt)
        url = try container.decode(String.self, forKey: .url)
        preset = try container.decodeIfPresent(String.self, forKey: .preset)
        knobs = try container.decode(TuningKnobs.self, forKey: .knobs)
        outcome = try container.decode(Outcome.self, forKey: .outcome)
        error = try container.decodeIfPresent(Failure.self, forKey: .error)
        summary = try container.decode(Summary.self, forKey: .summary)
        milestones = try container.decode(Milestones.self, forKey: .milestones)
        stages = try container.decode([StageSpan].self, forKey: .stages)
        hops = try container.decode([Hop].self, forKey: .hops)
        streams = try container.decode([Stream].self, forKey: .streams)
        tlsPeerVerified = try container.decodeIfPresent(Bool.self, forKey: .tlsPeerVerified)
        // Schema 1 reports have neither.
        causes = try container.decodeIfPresent(CauseBreakdown.self, forKey: .causes)
        advice = try container.decodeIfPresent([Advice].self, forKey: .advice) ?? []
        firstPictureDecode = try container.decodeIfPresent(FirstPictureDecode.self, forKey: .firstPictureDecode)
        floor = try container.decodeIfPresent(Floor.self, forKey: .floor)
        preload = try container.decodeIfPresent(Preload.self, forKey: .preload)
    }
}

extension FirstFrameReport.Summary {
    // firstVideoFrameMs is null, not absent, when the first frame was not reached.
    private enum CodingKeys: String, CodingKey {
        case dnsMs, tcpConnectMs, tlsMs, httpResponseMs, formatProbeMs, streamInfoMs, bufferingMs, decodeMs,
            firstVideoFrameMs
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        for stage in Stage.allCases {
            try container.encode(self[stage], forKey: CodingKeys(rawValue: stage.rawValue + "Ms")!)
        }
        try container.encode(firstVideoFrameMs, forKey: .firstVideoFrameMs)
    }
}

extension FirstFrameReport.Milestones {
    private enum CodingKeys: String, CodingKey {
        case firstByteMs, firstKeyframeMs, firstVideoFrameMs, firstAudioFrameMs
    }

    // Milestones not reached are null, not absent.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(firstByteMs, forKey: .firstByteMs)
        try container.encode(firstKeyframeMs, forKey: .firstKeyframeMs)
        try container.encode(firstVideoFrameMs, forKey: .firstVideoFrameMs)
        try container.encode(firstAudioFrameMs, forKey: .firstAudioFrameMs)
    }
}

extension FirstFrameReport.Outcome: CustomStringConvertible {
    /// `ok` or `failed`.
    public var description: String { rawValue }
}

extension FirstFrameReport.Failure.Kind: CustomStringConvertible {
    /// Its name (`timeout`, `invalidData`, …), as reports spell it.
    public var description: String { rawValue }
}

extension FirstFrameReport.Failure: CustomStringConvertible {
    /// `stage/kind: message`, as the CLI and the recorder's summary show a failure.
    public var description: String { "\(stage.rawValue)/\(kind.rawValue): \(message)" }
}

extension FirstFrameReport.Stream: CustomStringConvertible {
    /// `#0 video h264 640×360` or `#1 audio aac 48000 Hz`.
    public var description: String {
        var text = "#\(index) \(type.rawValue) \(codec)"
        if let width, let height { text += " \(width)×\(height)" }
        if let sampleRate { text += " \(sampleRate) Hz" }
        return text
    }
}
