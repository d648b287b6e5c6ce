import FirstFrameFFmpeg
import FirstFrameNetwork
import Foundation

/// Every setting that changes how fast an open reaches its first frame, settable by name as a string for the
/// CLI (`--set knob=value`) and for sweeps. Start from a ``Preset`` and change what you are measuring.
///
/// No knob may drop a stream silently: with `skipStreamInfo` the opener still waits for every stream the
/// container announces (announced video as long as the open may last, late audio `streamWaitMs`) before it
/// declares the stream information known.
public struct TuningKnobs: Sendable, Hashable, Codable {
    /// `fpsprobesize`: frames `avformat_find_stream_info` reads to estimate a frame rate; -1 = FFmpeg's default
    /// (20, doubled to 40 for FLV's 1/1000 time base), 0 = none.
    public var fpsprobesize: Int = -1
    /// `probesize`: bytes `avformat_find_stream_info` may read (FFmpeg: 5 000 000; at least 32).
    public var probesize: Int = 5_000_000
    /// `analyzeduration` in microseconds; 0 = FFmpeg's default (5 s).
    public var analyzeduration: Int = 0
    /// `formatprobesize`: bytes the format probe may read (FFmpeg: 1 048 576; at least 2048 are always read).
    public var formatprobesize: Int = 1_048_576
    /// The demuxer to use (`flv`, `hls`, `mpegts`, …), skipping the format probe (FFmpeg's `-f`); empty probes;
    /// `auto` uses `flv` when the URL's path ends in `.flv` and probes otherwise (a mismatch fails as invalid data,
    /// it is never silent).
    public var format: String = ""

    /// The demuxer `format` names for `url`, nil to probe.
    public func demuxer(for url: String) -> String? {
        switch format {
        case "": return nil
        case "auto":
            let path = URL(string: url)?.path ?? url
            return path.lowercased().hasSuffix(".flv") ? "flv" : nil
        default: return format
        }
    }
    /// Skip `avformat_find_stream_info` on FLV inputs: the parameters come from the FLV sequence headers as packets
    /// are read, and every stream the FLV header announces is waited for. Other containers still run
    /// `avformat_find_stream_info`.
    public var skipStreamInfo = false
    /// How long (ms) a skipped stream-info stage waits, once the video is known, for announced audio that has not
    /// appeared yet (announced video is always waited for: there is no first picture without it).
    public var streamWaitMs: Int = 1000
    /// Video packets (counting from the first keyframe) queued before buffering is done; 0 = no requirement.
    public var minVideoFrames: Int = 0
    /// Audio packets queued before buffering is done; 0 = no requirement.
    public var minAudioFrames: Int = 0
    /// How often (ms) the buffering thresholds are checked; 0 = on every packet.
    public var bufferCheckIntervalMs: Int = 0
    /// Buffered media duration (ms) that also ends buffering (ijkplayer's first high-water mark); 0 = off.
    public var firstHighWaterMarkMs: Int = 0
    /// Decoder threads: 1 decodes the first frame at once; more (frame threading) delays the first picture by
    /// threads − 1 frames; 0 = FFmpeg's choice (one per core). With ``decodeKeyframeAlone`` they are the threads of
    /// the decoder handed on: the first picture is decoded with one thread whatever this says.
    public var decoderThreads: Int = 0
    /// Decode the first keyframe alone, in a decoder of its own that is drained at once, so the first picture
    /// never waits in the reorder buffer (B-frames: x264's defaults hold it for two more frames) or behind frame
    /// threads. The decoder handed on is primed with the keyframe marked as not to be shown, so it decodes on in
    /// order and never repeats the first picture. Nothing is dropped: every packet is still handed on.
    public var decodeKeyframeAlone = false
    /// Resolve IPv4 only (no AAAA query to wait for).
    public var ipv4Only = false
    /// FFmpeg's TCP option of the same name: `TCP_NODELAY` on the open's sockets, so that small writes (RTMP's
    /// commands, written in pieces) go out at once instead of waiting for the peer's delayed ACK (Nagle).
    /// The ``Preset/instant`` preset sets it; it matters for RTMP, whose open is a conversation of small messages.
    public var tcpNoDelay = false
    /// Acknowledge the server's bytes at once while the open runs (Linux `TCP_QUICKACK`, re-armed by the network
    /// hooks after every receive of the open's thread), so that a server writing its answers in small pieces under
    /// Nagle (nginx-rtmp) does not wait for this client's delayed ACK (~40 ms) between them. The other half of
    /// ``tcpNoDelay``: that one removes the client's own Nagle waits, this one the server's. It ends with the open
    /// (at the first picture); a kept stream's reads are not touched. Not an FFmpeg option; without the hooks
    /// (`NetworkTrace.isAvailable`) it does nothing. The ``Preset/instant`` preset sets it.
    public var quickAck = false
    /// Spare connections: as soon as the open's first connect to an address succeeds, this many more connections
    /// to it are opened in parallel (by the network hooks, non-blocking, on the open's thread), so that a later
    /// connect of the same open to that address — an HLS segment after its playlist, FFmpeg's next segment, a
    /// redirect to the same edge — is handed an established one instead of paying a handshake (`WarmConnections`).
    /// Spares left unused are closed when the open ends. 0 = none. Without the hooks it does nothing.
    public var spareConnections = 0
    /// Milliseconds after which a TCP connect still in progress is hedged: a second connect to the same address
    /// races the first, and the first to connect is used. A lost SYN (or SYN-ACK) otherwise waits for Linux's 1 s
    /// retransmission. Set it above the link's round trip (a hedge sooner only doubles SYNs); 0 = off.
    public var connectHedgeMs = 0
    /// Milliseconds after which a DNS lookup the open's cache has not answered sends a second, hedged query (first
    /// answer wins), so a lost query or answer costs this long instead of the resolver's 2–5 s timeout. Applies to
    /// lookups through FirstFrame's DNS cache (``ipv4Only``, ``resolve``, ``prefetchHosts``); 0 = off.
    public var lookupHedgeMs = 0
    /// The HLS demuxer's option of the same name: whether it opens the next segment, on a connection of its own,
    /// while the current one is read; -1 = FFmpeg's choice (on for HTTP/1.1 and 2 servers), 0 = off, 1 = on.
    /// FFmpeg 5.1 opens that next segment synchronously, right after the first segment's response headers and
    /// before reading any of its body: the first picture waits for a second connection and request (two round
    /// trips) that compete with the first segment for the link. Off, the next segment is requested on the first
    /// segment's connection (`http_persistent`) after its last byte. The ``Preset/instant`` preset turns it off.
    public var httpMultiple = -1
    /// Bytes the demuxer of each HLS segment (MPEG-TS, fMP4) may hold back while it identifies a stream's codec
    /// (its `probesize`, given through the HLS demuxer's `seg_format_options`); 0 = FFmpeg's choice, the open's
    /// ``probesize``. FFmpeg 5.1's MPEG-TS demuxer probes an AAC stream (stream type 0x0f) although its type
    /// names the codec, and holds every packet read meanwhile, the first keyframe too, until the probe is sure
    /// (usually the second audio packet: ~45 KB into an nginx-rtmp segment, read in 32 KB blocks) or this many
    /// bytes are held. Small, the keyframe is handed on as soon as it is read; a stream whose type does not name
    /// its codec is then identified from fewer bytes. The ``Preset/instant`` preset sets 4096.
    public var hlsSegmentProbesize = 0
    /// Hosts resolved in parallel before the open, kept fresh by their TTL.
    public var prefetchHosts: [String] = []
    /// Fixed answers, `host → addresses`, like curl's `--resolve`.
    public var resolve: [String: [String]] = [:]
    /// Per-stage deadlines (ms): a stage still running after this long fails the open, naming the stage.
    public var stageDeadlines: [Stage: Double] = [:]
    /// Seconds before the whole open fails; it bounds the DNS lookup too. It ends at the first picture: a kept
    /// stream is bounded by ``readTimeoutMs`` instead.
    public var totalDeadline: Double = 15
    /// After the open: milliseconds a read of the kept stream may wait for its next packet before the stream ends
    /// as stalled (``StreamEnd/Reason/stalled``); 0 = no limit.
    public var readTimeoutMs = 10_000

    /// The protocols an open may use, FFmpeg's names (its `protocol_whitelist`): the URL's own and every one it
    /// leads to (redirects, playlist entries, the TCP and TLS under HTTP). `file` counts only for a local input:
    /// a network URL never reaches local files. Widen it for `concat`, `subfile`, `data` and the rest; `pipe` and
    /// `fd` are refused (``uninterruptibleProtocols``).
    public var allowedProtocols: [String] = TuningKnobs.defaultAllowedProtocols
    /// Protocols ``allowedProtocols`` refuses: `pipe` and `fd` read a file descriptor (standard input, an
    /// inherited pipe) with a blocking `read()` that FFmpeg's interrupt callback never reaches, so neither the
    /// open's ``totalDeadline`` nor a cancel could end an open stuck on one.
    public static let uninterruptibleProtocols: Set<String> = ["pipe", "fd"]
    /// What ``allowedProtocols`` holds unless widened: HTTP(S), TLS and TCP under them, RTMP(S), HLS (with its
    /// `crypto` segments) and local files.
    public static let defaultAllowedProtocols = [
        "http", "https", "tls", "tcp", "rtmp", "rtmps", "hls", "crypto", "file",
    ]
    /// Verify TLS peers (certificate chain against ``caFile`` or the system's CA bundle, and the host name).
    public var verifyTLS = true
    /// A PEM file of trusted CAs for ``verifyTLS``; empty = the system's bundle.
    public var caFile = ""
    /// Bytes of packets the open may queue before its first picture (ijkplayer's 15 MiB by default).
    public var maxBufferBytes = 15 * 1024 * 1024
    /// Requests (connections and HTTP requests, redirects and playlist entries included) one open may make.
    public var maxRequests = 64

    public init() {}

    /// Every knob, in declaration order: the one table that ``names``, ``set(_:_:)``, ``textValues``,
    /// ``validate()`` and the CLI's `--set` help read.
    package static let descriptors: [KnobDescriptor] = [
        .integer(
            "fpsprobesize",
            \.fpsprobesize,
            -1...10_000,
            isFormatOption: true,
            doc: "Frames find_stream_info reads to estimate a frame rate; -1 = FFmpeg's default, 0 = none."
        ),
        .integer(
            "probesize",
            \.probesize,
            32...Int(Int32.max),
            isFormatOption: true,
            doc: "Bytes find_stream_info may read."
        ),
        .integer(
            "analyzeduration",
            \.analyzeduration,
            0...Int(Int32.max),
            isFormatOption: true,
            doc: "Microseconds find_stream_info may analyze; 0 = FFmpeg's default (5 s)."
        ),
        .integer(
            "formatprobesize",
            \.formatprobesize,
            2048...Int(Int32.max),
            isFormatOption: true,
            doc: "Bytes the format probe may read."
        ),
        KnobDescriptor(
            "format",
            \.format,
            rule: "a demuxer FFmpeg knows (ffmpeg -demuxers), auto, or empty to probe",
            doc: "The demuxer to use, skipping the format probe; auto = flv for .flv paths.",
            parse: { text in text.isEmpty || text == "auto" || FFmpegBuild.hasDemuxer(named: text) ? text : nil },
            format: { $0 }
        ),
        .boolean(
            "skipStreamInfo",
            \.skipStreamInfo,
            doc: "Skip find_stream_info: take parameters from the container's headers, waiting for every stream."
        ),
        .integer(
            "streamWaitMs",
            \.streamWaitMs,
            0...600_000,
            doc: "Milliseconds a skipped stream-info stage waits, after the video, for announced audio."
        ),
        .integer(
            "minVideoFrames",
            \.minVideoFrames,
            0...10_000,
            doc: "Video packets (from the first keyframe) buffered before playback; 0 = no requirement."
        ),
        .integer(
            "minAudioFrames",
            \.minAudioFrames,
            0...10_000,
            doc: "Audio packets buffered before playback; 0 = no requirement."
        ),
        .integer(
            "bufferCheckIntervalMs",
            \.bufferCheckIntervalMs,
            0...60_000,
            doc: "Milliseconds between buffering checks; 0 = on every packet."
        ),
        .integer(
            "firstHighWaterMarkMs",
            \.firstHighWaterMarkMs,
            0...600_000,
            doc: "Buffered milliseconds that also end buffering (ijkplayer's first high-water mark); 0 = off."
        ),
        .integer(
            "decoderThreads",
            \.decoderThreads,
            0...64,
            doc:
                "Decoder threads: 1 decodes the first frame at once; 0 = one per core (with decodeKeyframeAlone: the decoder handed on)."
        ),
        .boolean(
            "decodeKeyframeAlone",
            \.decodeKeyframeAlone,
            doc: "First picture from the keyframe alone in a drained decoder: no B-frame reorder or frame-thread delay."
        ),
        .boolean("ipv4Only", \.ipv4Only, doc: "Resolve IPv4 only (no AAAA query to wait for)."),
        .boolean(
            "tcp_nodelay",
            \.tcpNoDelay,
            isFormatOption: true,
            doc: "TCP_NODELAY on the open's sockets: RTMP's small command writes go out without waiting for an ACK."
        ),
        .boolean(
            "quickAck",
            \.quickAck,
            doc:
                "While the open runs, ACK the server's bytes at once (TCP_QUICKACK, Linux): its small RTMP writes don't wait for a delayed ACK."
        ),
        .integer(
            "spareConnections",
            \.spareConnections,
            0...ConnectPolicy.maximumSpares,
            doc:
                "Connections opened in parallel after the open's first connect to an address, handed to its later connects there (HLS segments, redirects)."
        ),
        .integer(
            "connectHedgeMs",
            \.connectHedgeMs,
            0...60_000,
            doc:
                "Milliseconds after which a TCP connect still in progress races a second one (a lost SYN costs 1 s); 0 = off."
        ),
        .integer(
            "lookupHedgeMs",
            \.lookupHedgeMs,
            0...60_000,
            doc:
                "Milliseconds after which a lookup through the DNS cache sends a second query, first answer wins (a lost query costs 5 s); 0 = off."
        ),
        .integer(
            "http_multiple",
            \.httpMultiple,
            -1...1,
            isFormatOption: true,
            doc:
                "HLS: open the next segment on its own connection while reading one; -1 = FFmpeg's choice (on for HTTP/1.1), 0 = off."
        ),
        KnobDescriptor(
            "hlsSegmentProbesize",
            \.hlsSegmentProbesize,
            rule: "0 (FFmpeg's choice: probesize) or an integer in 32...\(Int32.max)",
            doc: "HLS: bytes a segment's demuxer may hold while probing a codec; 0 = probesize (FFmpeg's choice).",
            parse: { text in
                guard let value = Int(text.trimmingCharacters(in: .whitespaces)),
                    value == 0 || (32...Int(Int32.max)).contains(value)
                else { return nil }
                return value
            },
            format: { String($0) }
        ),
        KnobDescriptor(
            "prefetchHosts",
            \.prefetchHosts,
            rule: "comma-separated hosts",
            omittedAtDefault: true,
            doc: "Hosts resolved in parallel before the open, kept fresh by their TTL.",
            parse: { text in
                text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            },
            format: { $0.joined(separator: ",") }
        ),
        KnobDescriptor(
            "resolve",
            \.resolve,
            rule: "host=ip[,ip][;host=ip...]",
            omittedAtDefault: true,
            doc: "Fixed answers for host lookups, like curl's --resolve.",
            parse: { text in
                var table: [String: [String]] = [:]
                for entry in text.split(separator: ";") {
                    guard let parsed = try? StaticResolver(entries: [String(entry)]) else { return nil }
                    for (host, addresses) in parsed.table { table[host, default: []] += addresses.map(\.description) }
                }
                return table
            },
            format: { table in
                table.keys.sorted().map { host in "\(host)=\(table[host]!.joined(separator: ","))" }.joined(
                    separator: ";"
                )
            }
        ),
        KnobDescriptor(
            "stageDeadlines",
            \.stageDeadlines,
            rule:
                "stage=ms[,stage=ms] with stages \(Stage.allCases.map(\.rawValue).joined(separator: "|")) and ms in (0, 3600000]",
            omittedAtDefault: true,
            doc: "Per-stage deadlines in milliseconds: a stage still running after its deadline fails the open.",
            parse: { text in
                var deadlines: [Stage: Double] = [:]
                for entry in text.split(separator: ",") {
                    let parts = entry.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2, let stage = Stage(rawValue: String(parts[0])),
                        let ms = Double(parts[1]), ms > 0, ms <= 3_600_000
                    else { return nil }
                    deadlines[stage] = ms
                }
                return deadlines
            },
            format: { deadlines in
                deadlines.keys.sorted { $0.rawValue < $1.rawValue }.map { "\($0.rawValue)=\(deadlines[$0]!)" }.joined(
                    separator: ","
                )
            }
        ),
        KnobDescriptor(
            "allowedProtocols",
            \.allowedProtocols,
            rule: "comma-separated names of protocols this FFmpeg has (ffmpeg -protocols), not "
                + "\(TuningKnobs.uninterruptibleProtocols.sorted().joined(separator: " or ")) "
                + "(they block in read() on a descriptor without FFmpeg's interrupt callback: no deadline could end the open)",
            doc:
                "Protocols an open may use (FFmpeg's protocol_whitelist); file only for local inputs; never pipe or fd.",
            parse: { text in
                // Item by item: an empty item or a name FFmpeg does not know would only fail at the open.
                let names = text.split(separator: ",", omittingEmptySubsequences: false)
                    .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                guard names.allSatisfy(InputPolicy.ffmpegProtocols.contains),
                    !names.contains(where: TuningKnobs.uninterruptibleProtocols.contains)
                else { return nil }
                return names
            },
            format: { $0.joined(separator: ",") }
        ),
        .boolean("verifyTLS", \.verifyTLS, doc: "Verify TLS peers against caFile or the system's CA bundle."),
        KnobDescriptor(
            "caFile",
            \.caFile,
            rule: "a path to a PEM file, or empty for the system's bundle",
            omittedAtDefault: true,
            doc: "Trusted CAs for verifyTLS; empty = the system's bundle.",
            parse: { text in text.isEmpty || FileManager.default.isReadableFile(atPath: text) ? text : nil },
            format: { $0 }
        ),
        .integer(
            "maxBufferBytes",
            \.maxBufferBytes,
            65_536...(1 << 31),
            doc: "Bytes of packets queued before the first picture; beyond it the open fails."
        ),
        .integer(
            "maxRequests",
            \.maxRequests,
            1...100_000,
            doc: "Requests one open may make (redirects and playlist entries included)."
        ),
        .integer(
            "readTimeoutMs",
            \.readTimeoutMs,
            0...3_600_000,
            doc:
                "After the open: milliseconds a read may wait for a packet before the stream ends as stalled; 0 = none."
        ),
        KnobDescriptor(
            "totalDeadline",
            \.totalDeadline,
            rule: "seconds in (0, 3600]",
            doc: "Seconds before the whole open fails; it bounds the DNS lookup too.",
            parse: { text in
                guard let seconds = Double(text), seconds > 0, seconds <= 3600 else { return nil }
                return seconds
            },
            format: { String($0) }
        ),
    ]

    /// The names ``set(_:_:)`` accepts, in declaration order.
    public static let names: [String] = descriptors.map(\.name)

    /// Sets a knob from text: integers, `true`/`false`/`1`/`0`, comma-separated hosts, `host=ip[,ip];host=ip`
    /// for `resolve`, `stage=ms[,stage=ms]` for `stageDeadlines`. Checks the value's range too.
    public mutating func set(_ name: String, _ text: String) throws(KnobError) {
        guard let descriptor = Self.descriptors.first(where: { $0.name == name }) else {
            throw .unknown(knob: name, known: Self.names)
        }
        try descriptor.parse(text, into: &self)
    }

    /// Checks every knob's range (values set in code bypass ``set(_:_:)``).
    public func validate() throws(KnobError) {
        var copy = self
        for descriptor in Self.descriptors { try descriptor.parse(descriptor.format(self), into: &copy) }
    }

    /// Every knob as the text ``set(_:_:)`` takes, for reports and tables (`prefetchHosts`, `resolve` and
    /// `stageDeadlines` only when they are not empty).
    public var textValues: [(name: String, value: String)] {
        Self.descriptors.compactMap { descriptor in
            descriptor.omittedAtDefault && descriptor.isDefault(in: self)
                ? nil : (descriptor.name, descriptor.format(self))
        }
    }

    /// The format options these knobs give `avformat_open_input` (stock values are left out, so the `ffmpeg`
    /// preset passes nothing at all).
    public var formatOptions: [(key: String, value: String)] {
        Self.descriptors.compactMap { descriptor in
            guard descriptor.isFormatOption, !descriptor.isDefault(in: self) else { return nil }
            // Switches go to FFmpeg as 1/0: a protocol may declare its option an integer (rtmp's tcp_nodelay is
            // AV_OPT_TYPE_INT, tcp's a bool), and "true" only parses as a bool.
            let text = descriptor.format(self)
            return (descriptor.name, text == "true" ? "1" : text == "false" ? "0" : text)
        } + segmentFormatOptions
    }

    /// The options the HLS demuxer hands the demuxer of each segment (its `seg_format_options`, a dictionary in
    /// FFmpeg's `key=value:key=value` text): none unless ``hlsSegmentProbesize`` is set. Other inputs ignore it.
    private var segmentFormatOptions: [(key: String, value: String)] {
        hlsSegmentProbesize == 0 ? [] : [("seg_format_options", "probesize=\(hlsSegmentProbesize)")]
    }
}

extension TuningKnobs {
    private enum CodingKeys: String, CodingKey {
        case fpsprobesize, probesize, analyzeduration, formatprobesize, format, skipStreamInfo, streamWaitMs
        case minVideoFrames, minAudioFrames, bufferCheckIntervalMs, firstHighWaterMarkMs, decoderThreads, ipv4Only
        case decodeKeyframeAlone
        case tcpNoDelay, quickAck, spareConnections, connectHedgeMs, lookupHedgeMs, httpMultiple, hlsSegmentProbesize,
            prefetchHosts, resolve, stageDeadlines, totalDeadline, readTimeoutMs,
            allowedProtocols
        case verifyTLS, caFile, maxBufferBytes, maxRequests
    }

    /// Knobs missing from the JSON (a report written before they existed) keep their defaults.
    public init(from decoder: any Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func read<Value: Decodable>(_ key: CodingKeys, into value: inout Value) throws {
            if let decoded = try container.decodeIfPresent(Value.self, forKey: key) { value = decoded }
        }
        try read(.fpsprobesize, into: &fpsprobesize)
        try read(.probesize, into: &probesize)
        try read(.analyzeduration, into: &analyzeduration)
        try read(.formatprobesize, into: &formatprobesize)
        try read(.format, into: &format)
        try read(.skipStreamInfo, into: &skipStreamInfo)
        try read(.streamWaitMs, into: &streamWaitMs)
        try read(.minVideoFrames, into: &minVideoFrames)
        try read(.minAudioFrames, into: &minAudioFrames)
        try read(.bufferCheckIntervalMs, into: &bufferCheckIntervalMs)
        try read(.firstHighWaterMarkMs, into: &firstHighWaterMarkMs)
        try read(.decoderThreads, into: &decoderThreads)
        try read(.decodeKeyframeAlone, into: &decodeKeyframeAlone)
        try read(.ipv4Only, into: &ipv4Only)
        try read(.tcpNoDelay, into: &tcpNoDelay)
        try read(.quickAck, into: &quickAck)
        try read(.spareConnections, into: &spareConnections)
        try read(.connectHedgeMs, into: &connectHedgeMs)
        try read(.lookupHedgeMs, into: &lookupHedgeMs)
        try read(.httpMultiple, into: &httpMultiple)
        try read(.hlsSegmentProbesize, into: &hlsSegmentProbesize)
        try read(.prefetchHosts, into: &prefetchHosts)
        try read(.resolve, into: &resolve)
        try read(.stageDeadlines, into: &stageDeadlines)
        try read(.totalDeadline, into: &totalDeadline)
        try read(.readTimeoutMs, into: &readTimeoutMs)
        try read(.allowedProtocols, into: &allowedProtocols)
        try read(.verifyTLS, into: &verifyTLS)
        try read(.caFile, into: &caFile)
        try read(.maxBufferBytes, into: &maxBufferBytes)
        try read(.maxRequests, into: &maxRequests)
    }
}

extension TuningKnobs {
    /// What the network hooks do with the open's connects: warm connections taken, ``spareConnections``,
    /// ``connectHedgeMs``.
    public var connectPolicy: ConnectPolicy {
        ConnectPolicy(
            acceptsWarmConnections: true,
            spareConnections: spareConnections,
            hedgeAfter: connectHedgeMs > 0 ? .milliseconds(connectHedgeMs) : nil
        )
    }
}
