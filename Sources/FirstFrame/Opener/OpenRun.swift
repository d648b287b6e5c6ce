import CFFmpeg
import CNetworkHooks
import Foundation
import Logging

/// One open, start to first picture, on the thread that runs it: the media pipeline, the marks it reaches, and
/// the report built from them and the network trace.
final class OpenRun: @unchecked Sendable {
    let url: String
    let knobs: TuningKnobs
    let presetName: String?
    let dnsCache: DNSCache?
    let interrupter: Interrupter

    private let start: UInt64
    /// The wall clock at `start` (seconds since 1970), for the report's `startedAt`.
    private let startedAt = Date().timeIntervalSince1970
    /// Bytes of the packets on ``queue``: capped by `maxBufferBytes` until the first picture.
    private var queuedBytes = 0
    private var marks = StageTimeline.MediaMarks()
    /// Every packet read, in order: handed on to the player after the open.
    private var queue: [Packet] = []
    private var firstKeyframeIndex: Int?
    private var firstKeyframe: UInt64?
    /// Where the first keyframe's bytes start and end in the input, to find when they arrived.
    private var firstKeyframeBytes: Range<Int64>?
    private var firstAudioFrame: UInt64?
    /// The FLV header's audio/video flags, once found (``announcedFLVStreams()``).
    private var flvHeaderFlags: (video: Bool, audio: Bool)?
    private var input: InputFormatContext?
    private var videoIndex: Int?
    private var picture: (width: Int, height: Int)?
    private var decodedVideoPackets = 0
    /// How the decoder reached the first picture, for the report.
    private var firstPictureDecode: FirstFrameReport.FirstPictureDecode?

    /// Told what happens as it happens, on this open's thread (nil: nobody listens).
    let events: (@Sendable (OpenEvent) -> Void)?
    /// Turns the trace and the marks into `events` as they happen; nil when nobody listens (no work at all).
    private let feed: OpenEventFeed?

    /// The opener's logger: FFmpeg's lines of this open go to it (``FFmpegLog/withLogger(_:metadata:_:)``).
    let logger: Logger

    init(
        url: String,
        knobs: TuningKnobs,
        presetName: String?,
        dnsCache: DNSCache?,
        events: (@Sendable (OpenEvent) -> Void)? = nil,
        logger: Logger = Logger(label: "FirstFrame.StreamOpener")
    ) {
        self.events = events
        self.logger = logger
        self.url = url
        self.knobs = knobs
        self.presetName = presetName
        self.dnsCache = dnsCache
        let origin = MonotonicClock.nanoseconds()
        self.start = origin
        let feed = events.map { OpenEventFeed(origin: origin, sink: $0) }
        self.feed = feed
        let limitReason = Locked<LimitReason?>(nil)
        self.limitReason = limitReason
        self.interrupter = Interrupter(
            timeout: knobs.totalDeadline,
            limit: Self.limit(
                knobs: knobs,
                origin: origin,
                feed: feed,
                watchesSegments: Self.isPlaylist(url),
                reason: limitReason
            )
        )
    }

    /// Why the interrupter's limit stopped the open, set by the limit when it holds.
    enum LimitReason: Sendable {
        case requestCap
        /// A network stage (or the format probe) ran past its deadline, in milliseconds.
        case stageDeadline(Stage, Double)
        /// A playlist's segment answered with an HTTP error: FFmpeg's HLS demuxer would skip it and wait for the
        /// next one until the deadline.
        case segmentFailed(status: Int, url: String?)
    }

    private let limitReason: Locked<LimitReason?>

    /// Whether `url` names a playlist (HLS), whose later requests the limit watches for HTTP errors.
    private static func isPlaylist(_ url: String) -> Bool {
        let path = url.split(separator: "?", maxSplits: 1).first.map(String.init)?.lowercased() ?? ""
        return path.hasSuffix(".m3u8") || path.hasSuffix(".m3u")
    }

    private func deadline(_ stage: Stage, from time: UInt64) -> UInt64? {
        knobs.stageDeadlines[stage].map { time + UInt64($0 * 1e6) }
    }

    /// What the interrupter checks on every FFmpeg poll besides the deadlines it holds: the cap on requests
    /// (counted by the hooks as they happen), the deadlines of the stages inside `avformat_open_input`, which
    /// only the trace can tell apart, and for a playlist an HTTP error on a later request (a segment), which FFmpeg
    /// would skip and wait out. Runs on the open's thread, whose trace it reads; says why it held in `reason`.
    /// It also hands the trace's new events to the listener, if any (`feed`).
    private static func limit(
        knobs: TuningKnobs,
        origin: UInt64,
        feed: OpenEventFeed?,
        watchesSegments: Bool,
        reason: Locked<LimitReason?>
    ) -> @Sendable () -> Bool {
        let networkDeadlines = knobs.stageDeadlines.filter {
            [.tcpConnect, .tls, .httpResponse, .formatProbe].contains($0.key)
        }
        let maxRequests = knobs.maxRequests
        return {
            feed?.drainNetwork()
            if requestCapExceeded(maxRequests) {
                reason.withLock { $0 = .requestCap }
                return true
            }
            guard !networkDeadlines.isEmpty || watchesSegments, cnh_trace_current() != nil else { return false }
            let now = MonotonicClock.nanoseconds()
            let hops = NetworkTrace(start: origin, end: now, events: NetworkTraceRecorder.eventsSoFar()).hops
            // Segments only: a variant or rendition playlist that fails is one FFmpeg marks broken and plays without.
            if watchesSegments, let failed = hops.last(where: { $0.role == .segment && ($0.status ?? 0) >= 400 }),
                let status = failed.status
            {
                reason.withLock { $0 = .segmentFailed(status: status, url: failed.url) }
                return true
            }
            let (stage, since) = StageTimeline.networkStageInProgress(hops: hops, origin: origin, now: now)
            guard let limit = networkDeadlines[stage], now >= since + UInt64(limit * 1e6) else { return false }
            reason.withLock { $0 = .stageDeadline(stage, limit) }
            return true
        }
    }

    /// Whether the calling thread's trace has seen more than `maxRequests` connects or HTTP request heads: read by
    /// the limit on every poll, and after the run to tell the cap from a stage deadline (the limit checks both).
    private static func requestCapExceeded(_ maxRequests: Int) -> Bool {
        var connects: UInt32 = 0
        var requests: UInt32 = 0
        cnh_trace_counts(cnh_trace_current(), &connects, &requests)
        return Int(max(connects, requests)) > maxRequests
    }

    /// Bytes of each turn (a request, a response) the trace keeps: enough for the media up to the first keyframe
    /// on a live join, which the causes need when the framing (chunked, RTMP chunks) must be read to find it.
    static let captureBytesPerTurn = 256 * 1024

    // MARK: Run

    func run() -> Result<OpenedStream, OpenError> {
        let policy: InputPolicy
        do throws(PipelineFailure) {
            policy = try InputPolicy(url: url, knobs: knobs)
        } catch {
            // Refused before any I/O: the report names the stage the input would have started with.
            var report = FirstFrameReport(url: InputPolicy.redacted(url), preset: presetName, knobs: knobs)
            report.error = .init(stage: error.stage, kind: error.kind, message: error.message)
            feed?.failed(report)
            return .failure(OpenError(report: report))
        }
        var outcome: Result<PendingVideoDecoder, Error> = .failure(
            PipelineFailure(stage: .dns, kind: .ffmpeg, message: "not run")
        )
        var stoppedByRequestCap = false
        let (_, trace) = NetworkTrace.capture(captureBytesPerTurn: Self.captureBytesPerTurn, quickAck: knobs.quickAck) {
            let scope = LookupScope(
                cache: dnsCache,
                interrupter: interrupter,
                deadline: interrupter.deadline,
                lookupBudget: knobs.stageDeadlines[.dns].map { UInt64($0 * 1e6) }
            )
            // FFmpeg's lines on this thread go to the opener's logger, with the (redacted) URL and the stage.
            scope.run {
                outcome = FFmpegLog.withLogger(
                    ffmpegLogger,
                    metadata: { ["stage": .string(self.stageInProgress().rawValue)] }
                ) {
                    Result { try pipeline(policy) }
                }
            }
            stoppedByRequestCap = Self.requestCapExceeded(knobs.maxRequests)
            feed?.finishNetwork()
        }
        // The installed cache learns from every trace by itself (NetworkTraceRecorder): once is enough.
        if dnsCache !== DNSCache.installed { dnsCache?.learn(from: trace) }
        if case .failure = outcome, stoppedByRequestCap {
            outcome = .failure(
                PipelineFailure(
                    stage: .formatProbe,
                    kind: .requestLimit,
                    message:
                        "the open made more than \(knobs.maxRequests) requests (maxRequests); a playlist that refers to itself?"
                )
            )
        }
        if case .success = outcome, let failure = Self.statusLineFailure(trace) {
            // The input and the decoder it led to go with the failure.
            input = nil
            queue = []
            outcome = .failure(failure)
        }
        switch outcome {
        case .success(let handOff):
            let report = makeReport(trace: trace, failure: nil)
            return .success(
                OpenedStream(
                    report: report,
                    input: input!,
                    interrupter: interrupter,
                    handOff: handOff,
                    videoStreamIndex: videoIndex!,
                    queued: queue,
                    readTimeout: knobs.readTimeoutMs == 0 ? nil : Double(knobs.readTimeoutMs) / 1000,
                    mediaSocket: mediaSocket(trace),
                    openStart: start,
                    logger: ffmpegLogger
                )
            )
        case .failure(let error):
            let report = makeReport(trace: trace, failure: error)
            feed?.failed(report)
            return .failure(OpenError(report: report))
        }
    }

    /// The logger FFmpeg's lines of this open (and of its kept stream's reads) go to: the opener's, with the URL,
    /// credentials redacted.
    private var ffmpegLogger: Logger {
        var logger = logger
        logger[metadataKey: "url"] = .string(InputPolicy.redacted(url))
        return logger
    }

    /// The stage in progress, for FFmpeg's lines: from the marks once the input is open, before that from the trace
    /// so far (the network stages all happen inside `avformat_open_input`). Runs on the open's thread.
    private func stageInProgress() -> Stage {
        let hops =
            marks.formatProbed == nil && cnh_trace_current() != nil
            ? NetworkTrace(start: start, end: MonotonicClock.nanoseconds(), events: NetworkTraceRecorder.eventsSoFar())
                .hops
            : []
        return StageTimeline.stageInProgress(hops: hops, marks: marks)
    }

    /// The socket the kept stream reads its media from: the last hop's connection, still open, when the input is a
    /// single connection's stream (FLV or MPEG-TS over HTTP(S) or RTMP). HLS opens a connection per segment, so
    /// it has none.
    private func mediaSocket(_ trace: NetworkTrace) -> Int32? {
        guard let input, ["flv", "live_flv", "mpegts"].contains(input.formatName),
            let hop = trace.hops.last, hop.closed == nil, let fd = hop.establishedConnect?.fd
        else { return nil }
        return fd
    }

    /// A report for a failure outside the pipeline (the thread could not run).
    func failedReport(kind: FirstFrameReport.Failure.Kind, message: String) -> FirstFrameReport {
        var report = FirstFrameReport(url: InputPolicy.redacted(url), preset: presetName, knobs: knobs)
        report.error = .init(stage: .dns, kind: kind, message: message)
        return report
    }

    // MARK: Pipeline

    private func pipeline(_ policy: InputPolicy) throws -> PendingVideoDecoder {
        // Network stages and the probe are all inside avformat_open_input: their deadlines are checked by the
        // interrupter's limit, from the trace (`limit(knobs:origin:)`), and the dns deadline by the lookup scope.
        let options = FFmpegOptions()
        for (key, value) in knobs.formatOptions { options.set(key, value) }
        // The protocol list applies to everything the input opens (redirects, playlist entries, TCP and TLS).
        options.set("protocol_whitelist", policy.protocols.joined(separator: ","))
        options.set("tls_verify", knobs.verifyTLS ? "1" : "0")
        if !knobs.caFile.isEmpty { options.set("ca_file", knobs.caFile) }
        let input = try InputFormatContext(
            url: url,
            options: options,
            interrupter: interrupter,
            format: knobs.demuxer(for: url)
        )
        self.input = input
        // A demuxer may take an interrupted read for the end of its header and return: past a deadline, the probe
        // failed, it did not finish.
        try failIfInterrupted(.formatProbe)
        // (Files and network inputs; a concat or subfile input's first bytes are not where the trace or the path shows.)
        if knobs.demuxer(for: url) == "flv", ["file", "http", "https"].contains(policy.scheme) {
            try checkFLVSignature(input)
        }
        reach(.formatProbe, \.formatProbed)

        interrupter.setStageDeadline(deadline(.streamInfo, from: MonotonicClock.nanoseconds()))
        if knobs.skipStreamInfo, input.formatName == "flv" {
            try readUntilStreamsKnown(input)
        } else {
            try input.findStreamInfo()
            // avformat_find_stream_info treats an interrupted read as the end of its input and returns what it
            // has: past a deadline or on cancel, that is the stage failing, not finishing.
            try failIfInterrupted(.streamInfo)
        }
        // No video is the stream information's verdict: the stage fails, it does not end.
        guard let video = input.bestStream(.video) else {
            throw PipelineFailure(stage: .streamInfo, kind: .noVideo, message: "the input has no video stream")
        }
        reach(.streamInfo, \.streamInfoFound)
        videoIndex = video

        interrupter.setStageDeadline(deadline(.buffering, from: MonotonicClock.nanoseconds()))
        try buffer(input, video: video)
        reach(.buffering, \.bufferReady)

        interrupter.setStageDeadline(deadline(.decode, from: MonotonicClock.nanoseconds()))
        let (frame, decoder, keyframeAlone) = try decodeFirstPicture(input, video: video)
        // Decoding is CPU work FFmpeg never interrupts: a decode that overran its deadline fails when it returns.
        try failIfInterrupted(.decode)
        reach(.decode, \.firstVideoFrame)
        picture = (frame.width, frame.height)
        firstPictureDecode = .init(
            decoder: decoder,
            keyframeAlone: keyframeAlone != nil,
            packetsDecoded: decodedVideoPackets
        )
        feed?.firstPicture(at: marks.firstVideoFrame!, width: frame.width, height: frame.height)
        decodeFirstAudio(input)
        interrupter.setStageDeadline(nil)
        completeParameters(input, video: video, decoder: decoder)
        guard let keyframeAlone else {
            return .primed(
                VideoDecoderHandOff(decoder: decoder, firstPicture: frame, packetsAlreadyDecoded: decodedVideoPackets)
            )
        }
        // The decoder handed on is made, when it is taken, from the parameters as completed.
        return .toPrime(
            .init(
                parameters: CodecParameters(of: input, streamIndex: video),
                threads: knobs.decoderThreads,
                keyframe: keyframeAlone.sharedReference(),
                firstPicture: frame
            )
        )
    }

    /// FFmpeg's http reads any number after the first space of the first line as the status (0 for none) and
    /// streams the body of whatever is not 4xx/5xx (3xx it follows): a response whose status line is not HTTP (or
    /// ICY) or whose status is 1xx or past 599 is the server's error, whatever its body held. The response looked at
    /// is the last one the trace read a head of; read from the trace assembled for the report (no second reading).
    private static func statusLineFailure(_ trace: NetworkTrace) -> PipelineFailure? {
        guard let hop = trace.hops.last(where: { $0.statusLine != nil }), let line = hop.statusLine else { return nil }
        let status =
            hop.status
            ?? (line.hasPrefix("ICY ") ? line.split(separator: " ").dropFirst().first.flatMap { Int($0) } : nil)
        if let status, (200...599).contains(status) { return nil }
        return PipelineFailure(
            stage: .httpResponse,
            kind: .http,
            message: "invalid HTTP status line '\(line.prefix(80))'" + (status.map { " (status \($0))" } ?? "")
        )
    }

    /// Throws `stage`'s timeout (or the cancel) when the interrupter says stop: for calls that return normally
    /// when interrupted, or that never poll.
    private func failIfInterrupted(_ stage: Stage) throws {
        if interrupter.isCancelled {
            throw PipelineFailure(stage: stage, kind: .cancelled, message: "cancelled during \(stage.rawValue)")
        }
        if interrupter.hasTimedOut || interrupter.stageDeadlinePassed {
            let limit =
                interrupter.stageDeadlinePassed
                ? knobs.stageDeadlines[stage].map { "\($0) ms" } ?? "its deadline"
                : "totalDeadline \(knobs.totalDeadline) s"
            throw PipelineFailure(
                stage: stage,
                kind: .timeout,
                message: "\(stage.rawValue) did not finish within \(limit)"
            )
        }
        // The deadlines of the stages inside avformat_open_input, the request cap and a segment's error stop the
        // open through the limit: the classification names which (the failure's kind and message come from it).
        if interrupter.hasReachedLimit {
            throw PipelineFailure(stage: stage, kind: .timeout, message: "\(stage.rawValue) was stopped by its limit")
        }
    }

    private func reach(_ stage: Stage, _ mark: WritableKeyPath<StageTimeline.MediaMarks, UInt64?>) {
        marks[keyPath: mark] = MonotonicClock.nanoseconds()
        marks.packetsAt[stage] = queue.count
        marks.bytesAt[stage] = input?.bytesRead ?? 0
        feed?.reached(stage, at: marks[keyPath: mark]!, input: input)
    }

    /// Reads one packet onto the queue; throws at the end of the input (before the first picture, that is a
    /// failure: the stream ended).
    @discardableResult
    private func readPacket(_ input: InputFormatContext) throws -> Packet {
        let packet = Packet()
        guard try input.read(into: packet) else {
            throw PipelineFailure(
                stage: .streamInfo,
                kind: .endOfStream,
                message: "the input ended before the first picture"
            )
        }
        queue.append(packet)
        queuedBytes += packet.size
        if queuedBytes > knobs.maxBufferBytes { throw bufferLimitFailure() }
        if firstKeyframeIndex == nil, packet.isKeyframe, packet.mediaKind == .video {
            firstKeyframeIndex = queue.count - 1
            firstKeyframe = MonotonicClock.nanoseconds()
            firstKeyframeBytes = packet.position.map { $0..<($0 + containerBytes(input, packet)) }
            if let feed {
                // When its last byte arrived, as the report will say: from the trace so far (only with a listener).
                let soFar = NetworkTrace(
                    start: start,
                    end: MonotonicClock.nanoseconds(),
                    events: NetworkTraceRecorder.eventsSoFar()
                )
                feed.firstKeyframe(readAt: firstKeyframe!, arrivedAt: mediaArrival(soFar)?.keyframeLastByte)
            }
        }
        return packet
    }

    /// The failure for a queue that reached `maxBufferBytes`: no video (a stream that was announced but never
    /// came, or none at all) when no video packet is queued, else the cap itself.
    private func bufferLimitFailure() -> PipelineFailure {
        let videoQueued = queue.contains { $0.mediaKind == .video }
        let held = "\(queuedBytes) bytes in \(queue.count) packets (maxBufferBytes \(knobs.maxBufferBytes))"
        return videoQueued
            ? PipelineFailure(
                stage: marks.streamInfoFound == nil ? .streamInfo : .buffering,
                kind: .bufferLimit,
                message: "no decodable picture in \(held)"
            )
            : PipelineFailure(stage: .streamInfo, kind: .noVideo, message: "no video packet in \(held)")
    }

    /// The bytes a packet spans in the input from its position: FLV's position is the tag's start, before the
    /// 11-byte tag header and the video tag's own header (1 byte, 5 for AVC). MPEG-TS's is the transport packet
    /// that starts it, and every 188-byte packet carries at most 184 bytes of it. Other containers' positions
    /// point at the data.
    private func containerBytes(_ input: InputFormatContext, _ packet: Packet) -> Int64 {
        switch input.formatName {
        case "flv", "live_flv":
            let codec = input.stream(at: packet.streamIndex).pointee.codecpar.pointee.codec_id
            return 11 + (codec == AV_CODEC_ID_H264 ? 5 : 1) + Int64(packet.size)
        case "mpegts":
            return (Int64(packet.size) + 183) / 184 * 188
        default:
            return Int64(packet.size)
        }
    }

    // MARK: Stream information without avformat_find_stream_info

    /// FLV announces its streams in the header's flags but creates them only when their tags arrive. Read until
    /// every announced stream exists with its parameters (the sequence headers carry them), never going on
    /// without one. Announced video is waited for as long as the open may last: an edge that holds video back
    /// until its next keyframe (nginx-rtmp does, sending audio at once) makes it as late as a GOP. Announced audio
    /// that is late is waited for `streamWaitMs` after the video is known, and then handed on whenever it comes
    /// (it is not dropped; the player sees it appear).
    private func readUntilStreamsKnown(_ input: InputFormatContext) throws {
        let announced = announcedFLVStreams()
        var videoKnownAt: UInt64?
        while true {
            let videoKnown = streamKnown(input, AVMEDIA_TYPE_VIDEO)
            let audioKnown = streamKnown(input, AVMEDIA_TYPE_AUDIO)
            let wantVideo = announced?.video ?? true
            let wantAudio = announced?.audio ?? true
            if (!wantVideo || videoKnown) && (!wantAudio || audioKnown) { return }
            if videoKnown {
                let now = MonotonicClock.nanoseconds()
                videoKnownAt = videoKnownAt ?? now
                if now - videoKnownAt! >= UInt64(knobs.streamWaitMs) * 1_000_000 { return }
            }
            do {
                try readPacket(input)
            } catch
                where audioKnown && !videoKnown && !interrupter.isCancelled
                && (interrupter.hasTimedOut || interrupter.stageDeadlinePassed)
            {
                // The deadline came with audio flowing and the announced video still missing: say so.
                throw PipelineFailure(
                    stage: .streamInfo,
                    kind: .noVideo,
                    message: "the header announces video but only audio came before the deadline"
                )
            }
        }
    }

    private func streamKnown(_ input: InputFormatContext, _ type: AVMediaType) -> Bool {
        for index in 0..<Int(input.pointer.pointee.nb_streams) {
            let parameters = input.stream(at: index).pointee.codecpar.pointee
            guard parameters.codec_type == type, parameters.codec_id != AV_CODEC_ID_NONE else { continue }
            if parameters.extradata_size > 0 { return true }
            if queue.contains(where: { $0.streamIndex == index && (type != AVMEDIA_TYPE_VIDEO || $0.isKeyframe) }) {
                return true
            }
        }
        return false
    }

    /// With the demuxer named rather than probed (`format` `auto` or `flv`), FFmpeg's FLV demuxer reads any
    /// bytes as FLV and fails later, somewhere, or reads on for gigabytes. The probe stage checks what the probe
    /// would have: an FLV signature at the start of the input.
    private func checkFLVSignature(_ input: InputFormatContext) throws {
        guard announcedFLVStreams() == nil else { return }
        // The trace keeps the first 256 KiB of a response: behind a longer head, FFmpeg's buffer still has the body's
        // first bytes.
        if let start = input.leadingBytes(9), let flags = Self.flvHeaderFlags(in: start) {
            flvHeaderFlags = flags
            return
        }
        if input.bytesRead < 9 {
            throw PipelineFailure(
                stage: .formatProbe,
                kind: .endOfStream,
                message: "the input ended before an FLV header (\(input.bytesRead) bytes)"
            )
        }
        throw PipelineFailure(
            stage: .formatProbe,
            kind: .invalidData,
            message: "not FLV: the input does not start with an FLV header (format \(knobs.format))"
        )
    }

    /// The FLV header's audio/video flags, from the file or from the response bytes the trace has seen.
    private func announcedFLVStreams() -> (video: Bool, audio: Bool)? {
        // The probe's signature check and the stream-info stage both ask: read the file or the trace once.
        if let flvHeaderFlags { return flvHeaderFlags }
        flvHeaderFlags = scanForFLVHeader()
        return flvHeaderFlags
    }

    /// The audio/video flags of the last FLV header (signature, version 1, header size 9) in `bytes`.
    private static func flvHeaderFlags(in bytes: [UInt8]) -> (video: Bool, audio: Bool)? {
        guard bytes.count >= 9 else { return nil }
        for offset in stride(from: bytes.count - 9, through: 0, by: -1)
        where bytes[offset] == 0x46 && bytes[offset + 1] == 0x4C && bytes[offset + 2] == 0x56 && bytes[offset + 3] == 1
            && bytes[offset + 5] == 0 && bytes[offset + 6] == 0 && bytes[offset + 7] == 0 && bytes[offset + 8] == 9
        {
            return (bytes[offset + 4] & 0x01 != 0, bytes[offset + 4] & 0x04 != 0)
        }
        return nil
    }

    private func scanForFLVHeader() -> (video: Bool, audio: Bool)? {
        let flags: ([UInt8]) -> (video: Bool, audio: Bool)? = Self.flvHeaderFlags(in:)
        if !url.contains("://") || url.hasPrefix("file:") {
            let path = url.hasPrefix("file:") ? String(url.dropFirst(5)) : url
            guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
            defer { try? handle.close() }
            return flags(Array(handle.readData(ofLength: 9)))
        }
        for event in NetworkTraceRecorder.eventsSoFar().reversed()
        where event.kind == .receive || event.kind == .tlsReceive {
            if let found = flags(event.data) { return found }
        }
        return nil
    }

    // MARK: Buffering

    /// Queues packets until the thresholds are met, checking them as ijkplayer does: on a packet's arrival, at
    /// most every `bufferCheckIntervalMs`.
    private func buffer(_ input: InputFormatContext, video: Int) throws {
        var lastCheck: UInt64?
        while true {
            let now = MonotonicClock.nanoseconds()
            if knobs.bufferCheckIntervalMs == 0 || lastCheck == nil
                || now - lastCheck! >= UInt64(knobs.bufferCheckIntervalMs) * 1_000_000
            {
                lastCheck = now
                if thresholdsMet(input, video: video) { return }
            }
            do {
                try readPacket(input)
            } catch let failure as PipelineFailure where failure.kind == .endOfStream && firstKeyframeIndex != nil {
                // The input ended with a keyframe queued (a short file, a live edge that closed): a player plays
                // what it has, as ijkplayer does at the end of its input.
                return
            }
        }
    }

    private func thresholdsMet(_ input: InputFormatContext, video: Int) -> Bool {
        let fromKeyframe = firstKeyframeIndex.map { queue[$0...] } ?? []
        let videoPackets = fromKeyframe.lazy.filter { $0.streamIndex == video }
        let audioPackets = queue.lazy.filter { $0.mediaKind == .audio }
        let framesMet = videoPackets.count >= knobs.minVideoFrames && audioPackets.count >= knobs.minAudioFrames
        guard !framesMet, knobs.firstHighWaterMarkMs > 0 else { return framesMet }
        // ijkplayer's first high-water mark: enough media queued, counted in the video's time base.
        let timestamps = videoPackets.compactMap { $0.pts ?? $0.dts }
        guard let first = timestamps.min(), let last = timestamps.max() else { return false }
        let timeBase = input.stream(at: video).pointee.time_base
        let queuedMs = Double(last - first) * Double(timeBase.num) / Double(timeBase.den) * 1000
        return queuedMs >= Double(knobs.firstHighWaterMarkMs)
    }

    // MARK: Decoding

    /// The first picture and the decoder that gave it. With `decodeKeyframeAlone`, a one-thread decoder decodes the
    /// first keyframe alone and is drained at once, so no reorder buffer or frame thread holds the picture; the
    /// decoder handed on is made and primed when it is taken (``PendingVideoDecoder``). Otherwise, or when the
    /// keyframe gives no picture alone, a decoder is fed from the keyframe on until it gives a picture, and is
    /// handed on as it is.
    /// - Returns: the picture, its decoder, and the keyframe when it was decoded alone.
    private func decodeFirstPicture(
        _ input: InputFormatContext,
        video: Int
    ) throws -> (picture: Frame, decoder: CodecContext, keyframeAlone: Packet?) {
        if knobs.decodeKeyframeAlone, let index = firstKeyframe(of: video) {
            // Decoding the keyframe alone needs no more than one thread: frame threads only add their delay.
            let decoder = try openVideoDecoder(input, video: video, threads: 1)
            if let frame = try decodeAlone(queue[index], decoder: decoder) {
                decodedVideoPackets = 1
                return (frame, decoder, queue[index])
            }
            // Drained without a picture: decoding in order starts over in a fresh decoder.
        }
        let decoder = try openVideoDecoder(input, video: video, threads: knobs.decoderThreads)
        return (try decodeInOrder(input, video: video, decoder: decoder), decoder, nil)
    }

    /// `keyframe`'s picture from `decoder` (one thread, fresh), drained after the one packet: nil when it gives none
    /// or one the decoder flags as damaged (a "keyframe" that does not decode on its own: an inter frame a muxer
    /// flagged as key), and the caller decodes in order instead, as it would have without the knob.
    private func decodeAlone(_ keyframe: Packet, decoder: CodecContext) throws -> Frame? {
        let frame = Frame()
        try decoder.send(keyframe)
        if try !decoder.receive(into: frame) {
            try decoder.send(nil as Packet?)
            guard try decoder.receive(into: frame) else { return nil }
        }
        return frame.isCorrupt ? nil : frame
    }

    private func openVideoDecoder(_ input: InputFormatContext, video: Int, threads: Int) throws -> CodecContext {
        do {
            return try CodecContext.decoder(for: input, streamIndex: video, threads: threads)
        } catch {
            throw PipelineFailure(stage: .decode, kind: .decoder, message: "\(error)")
        }
    }

    /// Where the video stream's first keyframe is on the queue: at or after the first video keyframe of any
    /// stream (an input may carry more than one video stream).
    private func firstKeyframe(of video: Int) -> Int? {
        guard let first = firstKeyframeIndex else { return nil }
        return queue[first...].firstIndex { $0.streamIndex == video && $0.isKeyframe }
    }

    private func decodeInOrder(_ input: InputFormatContext, video: Int, decoder: CodecContext) throws -> Frame {
        let frame = Frame()
        var next = 0
        var keyframe: Int?
        while true {
            while next < queue.count {
                let index = next
                next += 1
                // Inter frames before the first keyframe would decode to concealment garbage.
                if keyframe == nil { keyframe = firstKeyframe(of: video) }
                guard let keyframe, index >= keyframe, queue[index].streamIndex == video else { continue }
                try decoder.send(queue[index])
                decodedVideoPackets += 1
                if try decoder.receive(into: frame) { return frame }
            }
            try readPacket(input)
        }
    }

    /// The first audio frame, decoded after the picture so it never delays it.
    /// Its decoder, opened from the codec configuration even when no audio packet has come yet, completes the
    /// audio stream's parameters (sample format, layout) for a muxer.
    private func decodeFirstAudio(_ input: InputFormatContext) {
        guard let audio = input.bestStream(.audio),
            let decoder = try? CodecContext.decoder(for: input, streamIndex: audio, threads: 1)
        else { return }
        defer { input.completeParameters(ofStream: audio, from: decoder) }
        guard let packet = queue.first(where: { $0.streamIndex == audio }) else { return }
        let frame = Frame()
        if (try? decoder.send(packet)) != nil, (try? decoder.receive(into: frame)) == true {
            firstAudioFrame = MonotonicClock.nanoseconds()
            feed?.firstAudioFrame(at: firstAudioFrame!)
        }
    }

    /// What a preset that skipped `avformat_find_stream_info` left unset (picture size, pixel format, profile,
    /// frame rate) comes from the primed decoder and the queued timestamps, so that a muxer can take the input
    /// as it is handed over.
    private func completeParameters(_ input: InputFormatContext, video: Int, decoder: CodecContext) {
        input.completeParameters(ofStream: video, from: decoder)
        input.estimateFrameRate(ofStream: video, dts: queue.filter { $0.streamIndex == video }.compactMap(\.dts))
    }

    // MARK: Report

    /// What stopped the open, if anything did, for the failure's classification and message: which deadline
    /// (the total one or a stage's), the cap on requests, or a segment's HTTP error.
    private func interruption() -> FailureClassification.Interruption {
        var interruption = FailureClassification.Interruption(cancelled: interrupter.isCancelled)
        if interrupter.hasTimedOut {
            interruption.deadlinePassed = true
            interruption.deadline = "totalDeadline \(knobs.totalDeadline) s"
        } else if interrupter.stageDeadlinePassed {
            interruption.deadlinePassed = true
            let stage = StageTimeline.stageInProgress(hops: [], marks: marks)
            interruption.deadline =
                knobs.stageDeadlines[stage].map { "the \(stage.rawValue) deadline (\($0) ms)" } ?? "a stage deadline"
        } else if interrupter.hasReachedLimit {
            switch limitReason.withLock({ $0 }) {
            case .stageDeadline(let stage, let limit):
                interruption.deadlinePassed = true
                interruption.deadline = "the \(stage.rawValue) deadline (\(limit) ms)"
            case .segmentFailed(let status, let url):
                interruption.segmentFailure = .init(status: status, url: url.map(InputPolicy.redacted))
            case .requestCap, nil:
                interruption.deadlinePassed = true
                interruption.deadline = "maxRequests \(knobs.maxRequests)"
            }
        }
        return interruption
    }

    private func makeReport(trace: NetworkTrace, failure: Error?) -> FirstFrameReport {
        var report = FirstFrameReport(url: InputPolicy.redacted(url), preset: presetName, knobs: knobs)
        report.startedAt = startedAt
        var timeline = StageTimeline(origin: start)
        let probeEnd = marks.formatProbed ?? MonotonicClock.nanoseconds()
        timeline.addNetwork(trace.hops, until: probeEnd)
        if let time = marks.formatProbed { timeline.close(.formatProbe, at: time) }
        if let time = marks.streamInfoFound { timeline.close(.streamInfo, at: time) }
        if let time = marks.bufferReady { timeline.close(.buffering, at: time) }
        if let time = marks.firstVideoFrame { timeline.close(.decode, at: time) }

        // The causes end where the stages do: at the first picture, or when the failure was classified.
        var failedAt: UInt64?
        if let failure {
            let classified = FailureClassification.classify(
                trace: trace,
                marks: marks,
                error: failure,
                interruption: interruption(),
                allowedProtocols: knobs.allowedProtocols
            )
            failedAt = MonotonicClock.nanoseconds()
            timeline.close(classified.stage, at: failedAt!)
            report.error = classified
            report.outcome = .failed
        } else {
            report.outcome = .ok
        }

        timeline.attribute(receives: trace.events.filter { $0.kind == .receive }, marks: marks)
        report.stages = timeline.spans
        if trace.hops.first?.lookup?.source == .literal,
            let index = report.stages.firstIndex(where: { $0.name == .dns })
        {
            report.stages[index].note = "no lookup (an address literal): FFmpeg's set-up before its first connect"
        }
        report.summary = timeline.summary
        report.summary.firstVideoFrameMs = marks.firstVideoFrame.map(timeline.milliseconds)
        // Each RTMP hop's chunk stream is read once, for the causes and for the hop's report.
        let exchanges = trace.hops.map { trace.rtmpExchange(of: $0) }
        let arrival = mediaArrival(trace, exchanges: exchanges)
        let end = failedAt ?? marks.firstVideoFrame ?? MonotonicClock.nanoseconds()
        report.causes = FirstFrameReport.CauseBreakdown(
            spans: CauseTimeline.spans(
                origin: start,
                end: end,
                hops: trace.hops,
                media: arrival,
                instants: .init(
                    keyframeRead: firstKeyframe,
                    decodeStart: marks.bufferReady,
                    firstPicture: marks.firstVideoFrame
                ),
                stages: timeline.spans
            ),
            keyframeArrival: arrival?.keyframeLastByte != nil ? .network : .demuxer,
            firstPictureMs: report.summary.firstVideoFrameMs
        )
        report.milestones = .init(
            firstByteMs: trace.hops.last?.responseStart.map(timeline.milliseconds),
            firstKeyframeMs: (arrival?.keyframeLastByte ?? firstKeyframe).map(timeline.milliseconds),
            firstVideoFrameMs: marks.firstVideoFrame.map(timeline.milliseconds),
            firstAudioFrameMs: firstAudioFrame.map(timeline.milliseconds)
        )
        report.hops = zip(trace.hops, exchanges).map { hop, exchange in
            var reported = FirstFrameReport.Hop(hop, timeline: timeline)
            reported.rtmp = exchange.map { FirstFrameReport.RTMPTimeline($0, milliseconds: timeline.milliseconds) }
            return reported
        }
        report.describePlaylists(trace.playlists)
        report.describeEdgeChoices(trace, cache: dnsCache ?? DNSCache.installed)
        // A TLS hop that got as far as sending its request passed verification (FFmpeg fails the open otherwise).
        if trace.hops.contains(where: { $0.secureConnectionEnd != nil && $0.requestStart != nil }) {
            report.tlsPeerVerified = knobs.verifyTLS
        }
        if let input {
            report.streams = input.streams.map { stream in
                let isVideo = stream.kind == .video
                let width =
                    isVideo
                    ? (stream.width > 0 ? stream.width : (stream.index == videoIndex ? picture?.width : nil)) : nil
                let height =
                    isVideo
                    ? (stream.height > 0 ? stream.height : (stream.index == videoIndex ? picture?.height : nil)) : nil
                return .init(
                    index: stream.index,
                    type: stream.kind,
                    codec: stream.codec,
                    width: width,
                    height: height,
                    sampleRate: stream.kind == .audio ? stream.sampleRate : nil
                )
            }
        }
        report.firstPictureDecode = firstPictureDecode
        report.advice = AdviceRules.advice(for: report)
        return report
    }
}

extension OpenRun {
    /// When the media hop's bytes arrived: its first media byte, and the first keyframe's first and last bytes,
    /// found in the reads that delivered them whichever FFmpeg call was reading. FFmpeg may have read the
    /// keyframe long before handing it out (inside find_stream_info), so the time it was read says little; the
    /// time it arrived is the physical floor. HTTP and HTTPS (chunked or not); HLS segments and files fall back to
    /// the read time.
    /// - Parameter exchanges: each hop's RTMP exchange, when the caller has read them already.
    private func mediaArrival(_ trace: NetworkTrace, exchanges: [RTMPExchange?]? = nil) -> CauseTimeline.MediaArrival? {
        guard let input else { return nil }
        if input.formatName == "hls" { return segmentArrival(trace) }
        guard
            let index = trace.hops.lastIndex(where: { $0.responseStart != nil && ($0.status.map { $0 < 300 } ?? true) })
        else { return nil }
        var arrival = CauseTimeline.MediaArrival(hop: index)
        let hop = trace.hops[index]
        if hop.kind == .rtmp {
            // RTMP's media comes in chunks of messages, not at the demuxer's positions: its own reader finds them.
            guard let exchange = exchanges.map({ $0[index] }) ?? trace.rtmpExchange(of: hop) else { return arrival }
            arrival.isRTMP = true
            arrival.exchangeEnd = exchange.phase(.play)?.end
            arrival.firstMediaByte = exchange.firstMediaByte
            arrival.keyframeFirstByte = exchange.firstKeyframeStart
            arrival.keyframeLastByte = exchange.firstKeyframeEnd
            return arrival
        }
        guard let body = BodyArrival(hop: hop, trace: trace) else { return arrival }
        // The server's time ends with the first byte that only a server holding the stream can send: after FLV's
        // fixed 13-byte file header (which a cold edge may send before it has anything), the first tag — the
        // metadata, a sequence header or media. Whatever the edge then holds back until its next keyframe
        // (audio, with `wait_key`-style edges) is keyframe wait.
        let streamStart: Int64 = ["flv", "live_flv"].contains(input.formatName) ? 13 : 0
        arrival.firstMediaByte = body.arrival(ofOffset: streamStart)
        if let bytes = firstKeyframeBytes, let first = body.arrival(ofOffset: bytes.lowerBound),
            let last = body.arrival(ofOffset: bytes.upperBound - 1)
        {
            arrival.keyframeFirstByte = first
            arrival.keyframeLastByte = last
        }
        return arrival
    }

    /// HLS: the media comes in the first segment, which starts with a keyframe (segmenters cut at keyframes), so
    /// the keyframe's first byte is the segment's first. Where it ends inside the segment the demuxer's read
    /// tells (an upper bound): positions inside a playlist's stream of segments are not the segment's own.
    private func segmentArrival(_ trace: NetworkTrace) -> CauseTimeline.MediaArrival? {
        guard let segment = trace.playlists.firstSegment, trace.hops.indices.contains(segment.hop) else { return nil }
        // A redirected segment is fetched by a later hop: the first segment response that succeeded.
        guard
            let index = trace.hops[segment.hop...].firstIndex(where: { hop in
                hop.role == .segment && hop.status.map { (200..<300).contains($0) } == true
            })
        else { return nil }
        var arrival = CauseTimeline.MediaArrival(hop: index)
        let body = BodyArrival(hop: trace.hops[index], trace: trace)
        arrival.firstMediaByte = body?.firstByte
        arrival.keyframeFirstByte = body?.firstByte
        return arrival
    }
}
