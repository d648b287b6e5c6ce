import CFFmpeg
import Foundation

/// Every setting that changes how fast an open reaches its first frame, settable by name as a string for the
/// CLI (`--set knob=value`) and for sweeps. Start from a ``Preset`` and change what you are measuring.
///
/// No knob may drop a stream silently: with `skipStreamInfo` the opener still waits for every stream the
/// container announces (within `streamWaitMs`) before it declares the stream information known.
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
    /// Skip `avformat_find_stream_info`: the parameters come from the container's own headers (FLV sequence
    /// headers, MPEG-TS PMT) as packets are read, and every stream the container announces is waited for.
    public var skipStreamInfo = false
    /// How long (ms) a skipped stream-info stage waits for an announced stream that has not appeared yet.
    public var streamWaitMs: Int = 1000
    /// Video packets (counting from the first keyframe) queued before buffering is done; 0 = no requirement.
    public var minVideoFrames: Int = 0
    /// Audio packets queued before buffering is done; 0 = no requirement.
    public var minAudioFrames: Int = 0
    /// How often (ms) the buffering thresholds are checked; 0 = on every packet.
    public var bufferCheckIntervalMs: Int = 0
    /// Buffered media duration (ms) that also ends buffering (ijkplayer's first high-water mark); 0 = off.
    public var firstHighWaterMarkMs: Int = 0
    /// Decoder threads for the first frame: 1 decodes it at once; more (frame threading) delays the first
    /// picture by threads − 1 frames; 0 = FFmpeg's choice (one per core).
    public var decoderThreads: Int = 0
    /// Resolve IPv4 only (no AAAA query to wait for).
    public var ipv4Only = false
    /// Hosts resolved in parallel before the open, kept fresh by their TTL.
    public var prefetchHosts: [String] = []
    /// Fixed answers, `host → addresses`, like curl's `--resolve`.
    public var resolve: [String: [String]] = [:]
    /// Per-stage deadlines (ms): a stage still running after this long fails the open, naming the stage.
    public var stageDeadlines: [Stage: Double] = [:]
    /// Seconds before the whole open fails; it bounds the DNS lookup too.
    public var totalDeadline: Double = 15

    public init() {}

    /// The names ``set(_:_:)`` accepts, in declaration order.
    public static let names = [
        "fpsprobesize", "probesize", "analyzeduration", "formatprobesize", "format", "skipStreamInfo", "streamWaitMs",
        "minVideoFrames", "minAudioFrames", "bufferCheckIntervalMs", "firstHighWaterMarkMs", "decoderThreads",
        "ipv4Only", "prefetchHosts", "resolve", "stageDeadlines", "totalDeadline",
    ]

    /// Sets a knob from text: integers, `true`/`false`/`1`/`0`, comma-separated hosts, `host=ip[,ip];host=ip`
    /// for `resolve`, `stage=ms[,stage=ms]` for `stageDeadlines`. Checks the value's range too.
    public mutating func set(_ name: String, _ text: String) throws(KnobError) {
        func integer(_ range: ClosedRange<Int>) throws(KnobError) -> Int {
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
                throw .invalid(knob: name, value: text, expected: "an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return value
        }
        func boolean() throws(KnobError) -> Bool {
            switch text.lowercased() {
            case "1", "true", "yes", "on": return true
            case "0", "false", "no", "off": return false
            default: throw .invalid(knob: name, value: text, expected: "true or false")
            }
        }
        switch name {
        case "fpsprobesize": fpsprobesize = try integer(-1...10_000)
        case "probesize": probesize = try integer(32...Int(Int32.max))
        case "analyzeduration": analyzeduration = try integer(0...Int(Int32.max))
        case "formatprobesize": formatprobesize = try integer(2048...Int(Int32.max))
        case "format":
            guard text.isEmpty || text == "auto" || av_find_input_format(text) != nil else {
                throw .invalid(knob: name, value: text, expected: "a demuxer FFmpeg knows (ffmpeg -demuxers), auto, or empty to probe")
            }
            format = text
        case "skipStreamInfo": skipStreamInfo = try boolean()
        case "streamWaitMs": streamWaitMs = try integer(0...600_000)
        case "minVideoFrames": minVideoFrames = try integer(0...10_000)
        case "minAudioFrames": minAudioFrames = try integer(0...10_000)
        case "bufferCheckIntervalMs": bufferCheckIntervalMs = try integer(0...60_000)
        case "firstHighWaterMarkMs": firstHighWaterMarkMs = try integer(0...600_000)
        case "decoderThreads": decoderThreads = try integer(0...64)
        case "ipv4Only": ipv4Only = try boolean()
        case "prefetchHosts":
            prefetchHosts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        case "resolve":
            var table: [String: [String]] = [:]
            for entry in text.split(separator: ";") {
                do {
                    let parsed = try StaticResolver(entries: [String(entry)])
                    for (host, addresses) in parsed.table { table[host, default: []] += addresses.map(\.description) }
                } catch {
                    throw .invalid(knob: name, value: text, expected: "host=ip[,ip][;host=ip...]")
                }
            }
            resolve = table
        case "stageDeadlines":
            var deadlines: [Stage: Double] = [:]
            for entry in text.split(separator: ",") {
                let parts = entry.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, let stage = Stage(rawValue: String(parts[0])),
                      let ms = Double(parts[1]), ms > 0, ms.isFinite else {
                    throw .invalid(knob: name, value: text, expected: "stage=ms[,stage=ms] with stages \(Stage.allCases.map(\.rawValue).joined(separator: "|"))")
                }
                deadlines[stage] = ms
            }
            stageDeadlines = deadlines
        case "totalDeadline":
            guard let seconds = Double(text), seconds > 0, seconds <= 3600 else {
                throw .invalid(knob: name, value: text, expected: "seconds in (0, 3600]")
            }
            totalDeadline = seconds
        default:
            throw .unknown(knob: name, known: Self.names)
        }
    }

    /// Checks every knob's range (values set in code bypass ``set(_:_:)``).
    public func validate() throws(KnobError) {
        var copy = self
        for (name, text) in textValues { try copy.set(name, text) }
    }

    /// Every knob as the text ``set(_:_:)`` takes, for reports and tables.
    public var textValues: [(name: String, value: String)] {
        var values: [(name: String, value: String)] = [
            ("fpsprobesize", String(fpsprobesize)), ("probesize", String(probesize)),
            ("analyzeduration", String(analyzeduration)), ("formatprobesize", String(formatprobesize)),
            ("format", format), ("skipStreamInfo", String(skipStreamInfo)), ("streamWaitMs", String(streamWaitMs)),
            ("minVideoFrames", String(minVideoFrames)), ("minAudioFrames", String(minAudioFrames)),
            ("bufferCheckIntervalMs", String(bufferCheckIntervalMs)),
            ("firstHighWaterMarkMs", String(firstHighWaterMarkMs)),
            ("decoderThreads", String(decoderThreads)), ("ipv4Only", String(ipv4Only)),
        ]
        if !prefetchHosts.isEmpty { values.append(("prefetchHosts", prefetchHosts.joined(separator: ","))) }
        if !resolve.isEmpty {
            let entries: [String] = resolve.keys.sorted().map { host in "\(host)=\(resolve[host]!.joined(separator: ","))" }
            values.append(("resolve", entries.joined(separator: ";")))
        }
        if !stageDeadlines.isEmpty {
            let entries: [String] = stageDeadlines.keys.sorted { $0.rawValue < $1.rawValue }.map { "\($0.rawValue)=\(stageDeadlines[$0]!)" }
            values.append(("stageDeadlines", entries.joined(separator: ",")))
        }
        values.append(("totalDeadline", String(totalDeadline)))
        return values
    }

    /// The format options these knobs give `avformat_open_input` (stock values are left out, so the `ffmpeg`
    /// preset passes nothing at all).
    public var formatOptions: [(key: String, value: String)] {
        let stock = TuningKnobs()
        var options: [(String, String)] = []
        if fpsprobesize != stock.fpsprobesize { options.append(("fpsprobesize", String(fpsprobesize))) }
        if probesize != stock.probesize { options.append(("probesize", String(probesize))) }
        if analyzeduration != stock.analyzeduration { options.append(("analyzeduration", String(analyzeduration))) }
        if formatprobesize != stock.formatprobesize { options.append(("formatprobesize", String(formatprobesize))) }
        return options
    }
}
