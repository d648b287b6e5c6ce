import FirstFrameFFmpeg
import FirstFrameNetwork
import Logging

/// One open, start to first picture, on the thread that runs it: it runs the pipeline's parts in turn, stamps the
/// marks they reach, and hands what they recorded to ``ReportAssembler``.
///
/// The parts: ``InputPolicy`` (refuse before any I/O), the format probe with ``FLVHeaderSniffer``'s signature
/// check, ``StreamInfoPolicy`` or `avformat_find_stream_info`, ``BufferingPolicy``, ``FirstPictureDecoder``. Every
/// packet read goes onto the ``PacketQueue`` and on to the kept stream. ``OpenLimits`` stops the open.
///
/// Not `Sendable`: made on the open's thread from its ``OpenRequest`` (``run(_:)``), used there, and dropped there.
final class OpenRun {
    /// What an open that succeeded hands on to its kept stream.
    private struct Kept {
        var report: FirstFrameReport
        var input: InputFormatContext
        var handOff: PendingVideoDecoder
        var videoIndex: Int
        var queued: [Packet]
        var mediaSocket: Int32?
    }

    /// Bytes of each turn (a request, a response) the trace keeps: enough for the media up to the first keyframe
    /// on a live join, which the causes need when the framing (chunked, RTMP chunks) must be read to find it.
    static let captureBytesPerTurn = 256 * 1024

    private let request: OpenRequest
    private var knobs: TuningKnobs { request.knobs }
    private var limits: OpenLimits { request.limits }
    private var feed: OpenEventFeed? { request.feed }

    private var marks = StageTimeline.MediaMarks()
    private var queue: PacketQueue
    private var sniffer: FLVHeaderSniffer
    private var input: InputFormatContext?
    /// What the pipeline learnt of the media as it went (the video stream, the first picture and audio frame), for
    /// the report; what the input and the queue say is added when it is made.
    private var media = ReportAssembler.Media()

    private init(_ request: OpenRequest) {
        self.request = request
        queue = PacketQueue(
            maxBytes: request.knobs.maxBufferBytes,
            onFirstKeyframe: Self.keyframeListener(feed: request.feed, live: request.live)
        )
        sniffer = FLVHeaderSniffer(url: request.url, trace: request.live)
    }

    /// Runs the open `request` asks for, on the calling thread (the open's own): the kept stream, or the failure
    /// with its report.
    static func run(_ request: OpenRequest) -> Result<OpenedStream, OpenError> {
        switch OpenRun(request).open() {
        case .failure(let error):
            return .failure(error)
        case .success(let kept):
            // The run that made the input, the decoder and the packets is gone, and none of them holds another (a
            // keyframe kept to prime the decoder shares its payload with a queued packet through FFmpeg's reference
            // count, not a Swift reference): each is the stream's alone. Reached through one run, they are in one
            // region the checker cannot split.
            let stream = OpenedStream(
                report: kept.report,
                input: OwnershipTransfer(unique: kept.input).take(),
                interrupter: request.interrupter,
                handOff: OwnershipTransfer(unique: kept.handOff).take(),
                videoStreamIndex: kept.videoIndex,
                queued: OwnershipTransfer(unique: kept.queued).take(),
                readTimeout: request.knobs.readTimeoutMs == 0 ? nil : Double(request.knobs.readTimeoutMs) / 1000,
                mediaSocket: kept.mediaSocket,
                openStart: request.origin,
                logger: request.ffmpegLogger
            )
            return .success(stream)
        }
    }

    private func open() -> Result<Kept, OpenError> {
        let policy: InputPolicy
        do throws(PipelineFailure) {
            policy = try InputPolicy(url: request.url, knobs: knobs)
        } catch {
            // Refused before any I/O: the report names the stage the input would have started with.
            let report = request.notRunReport(.init(stage: error.stage, kind: error.kind, message: error.message))
            feed?.failed(report)
            return .failure(OpenError(report: report))
        }
        var (outcome, trace) = runTraced(policy)
        if case .success = outcome, let failure = TraceEvidence.statusLineFailure(trace) {
            // The input and the decoder it led to go with the failure.
            input = nil
            queue.removeAll()
            outcome = .failure(failure)
        }
        switch outcome {
        case .success(let handOff):
            let input = input!
            return .success(
                Kept(
                    report: report(trace, failure: nil),
                    input: input,
                    handOff: handOff,
                    videoIndex: media.videoIndex!,
                    queued: queue.packets,
                    mediaSocket: TraceEvidence.mediaSocket(trace, formatName: input.formatName)
                )
            )
        case .failure(let error):
            let failure = ReportAssembler.Failure(error: error, interruption: limits.interruption(marks: marks))
            let report = report(trace, failure: failure)
            feed?.failed(report)
            return .failure(OpenError(report: report))
        }
    }

    /// The pipeline under the network trace and the lookup scope, FFmpeg's lines going to the opener's logger
    /// tagged with the stage: what it returned or threw, and the trace.
    private func runTraced(_ policy: InputPolicy) -> (Result<PendingVideoDecoder, any Error>, NetworkTrace) {
        var outcome: Result<PendingVideoDecoder, any Error> = .failure(
            PipelineFailure(stage: .dns, kind: .ffmpeg, message: "not run")
        )
        var stoppedByRequestCap = false
        // The opener's own cache learns from the trace (the installed one learns from every trace by itself).
        let (_, trace) = NetworkTrace.capture(
            captureBytesPerTurn: Self.captureBytesPerTurn,
            quickAck: knobs.quickAck,
            connectPolicy: knobs.connectPolicy,
            live: request.live,
            observer: request.dnsCache
        ) {
            let scope = LookupScope(
                cache: request.dnsCache,
                interrupter: limits.interrupter,
                deadline: limits.interrupter.deadlineNanoseconds,
                lookupBudget: knobs.stageDeadlines[.dns].map { UInt64($0 * 1e6) }
            )
            // FFmpeg's lines on this thread go to the opener's logger, with the (redacted) URL and the stage.
            scope.run {
                outcome = FFmpegLog.withLogger(
                    request.ffmpegLogger,
                    metadata: { ["stage": .string(self.stageInProgress().rawValue)] }
                ) {
                    Result { try pipeline(policy) }
                }
            }
            stoppedByRequestCap = OpenLimits.requestCapExceeded(knobs.maxRequests)
            feed?.finishNetwork()
        }
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
        return (outcome, trace)
    }

    /// The stage in progress, for FFmpeg's lines: from the marks once the input is open, before that from the trace
    /// so far (the network stages all happen inside `avformat_open_input`). Runs on the open's thread.
    private func stageInProgress() -> Stage {
        let hops = marks.formatProbed == nil && NetworkTraceRecorder.isTracing ? request.live.hops() : []
        return StageTimeline.stageInProgress(hops: hops, marks: marks)
    }

    // MARK: Pipeline

    /// formatProbe → streamInfo → buffering → decode, each stage under its deadline and stamped when reached.
    private func pipeline(_ policy: InputPolicy) throws -> PendingVideoDecoder {
        let input = try probeFormat(policy)
        reach(.formatProbe, \.formatProbed)

        limits.startDeadline(of: .streamInfo)
        let video = try findStreams(input)
        reach(.streamInfo, \.streamInfoFound)
        queue.streamInfoFound = true
        media.videoIndex = video

        limits.startDeadline(of: .buffering)
        try BufferingPolicy(knobs: knobs).buffer(input, video: video, queue: &queue)
        reach(.buffering, \.bufferReady)

        limits.startDeadline(of: .decode)
        let decoder = FirstPictureDecoder(knobs: knobs)
        let first = try decoder.decode(input, video: video, queue: &queue)
        // Decoding is CPU work FFmpeg never interrupts: a decode that overran its deadline fails when it returns.
        try limits.failIfInterrupted(.decode)
        reach(.decode, \.firstVideoFrame)
        (media.pictureWidth, media.pictureHeight) = (first.picture.width, first.picture.height)
        media.firstPictureDecode = first.report
        feed?.firstPicture(at: marks.firstVideoFrame!, width: first.picture.width, height: first.picture.height)
        media.firstAudioFrame = FirstPictureDecoder.decodeFirstAudio(input, queue: queue)
        if let time = media.firstAudioFrame { feed?.firstAudioFrame(at: time) }
        limits.interrupter.setStageDeadline(nil)
        return decoder.handOff(first, input: input, video: video, queue: queue)
    }

    /// `avformat_open_input`, then the FLV signature check when the demuxer is named rather than probed.
    private func probeFormat(_ policy: InputPolicy) throws -> InputFormatContext {
        // Network stages and the probe are all inside avformat_open_input: their deadlines are checked by the
        // interrupter's limit, from the trace (`OpenLimits`), and the dns deadline by the lookup scope.
        let format = knobs.demuxer(for: request.url)
        let input = try InputFormatContext(
            url: request.url,
            options: policy.formatOptions(knobs),
            interrupter: limits.interrupter,
            format: format
        )
        self.input = input
        // A demuxer may take an interrupted read for the end of its header and return: past a deadline, the probe
        // failed, it did not finish.
        try limits.failIfInterrupted(.formatProbe)
        // (Files and network inputs; a concat or subfile input's first bytes are not where the trace or the path shows.)
        if format == "flv", ["file", "http", "https"].contains(policy.scheme) {
            try sniffer.checkSignature(input, format: knobs.format)
        }
        return input
    }

    /// The stream information, read by `avformat_find_stream_info`, or with `skipStreamInfo` on FLV by waiting for
    /// the streams the header announces (``StreamInfoPolicy``).
    /// - Returns: the video stream.
    private func findStreams(_ input: InputFormatContext) throws -> Int {
        if knobs.skipStreamInfo, input.formatName == "flv" {
            var policy = StreamInfoPolicy(announced: sniffer.announcedStreams(), streamWaitMs: knobs.streamWaitMs)
            try policy.readUntilStreamsKnown(input, queue: &queue, limits: limits)
        } else {
            try input.findStreamInfo()
            // avformat_find_stream_info treats an interrupted read as the end of its input and returns what it
            // has: past a deadline or on cancel, that is the stage failing, not finishing.
            try limits.failIfInterrupted(.streamInfo)
        }
        // No video is the stream information's verdict: the stage fails, it does not end.
        guard let video = input.bestStream(.video) else {
            throw PipelineFailure(stage: .streamInfo, kind: .noVideo, message: "the input has no video stream")
        }
        return video
    }

    private func reach(_ stage: Stage, _ mark: WritableKeyPath<StageTimeline.MediaMarks, UInt64?>) {
        marks[keyPath: mark] = MonotonicClock.nanoseconds()
        marks.packetsAt[stage] = queue.count
        marks.bytesAt[stage] = input?.bytesRead ?? 0
        feed?.reached(stage, at: marks[keyPath: mark]!, input: input)
    }

    /// What the listener is told when the first video keyframe has been read: when its last byte arrived, as the
    /// report will say, from the trace so far. Nil when nobody listens (no work at all).
    private static func keyframeListener(
        feed: OpenEventFeed?,
        live: LiveTrace
    ) -> ((InputFormatContext, UInt64, Range<Int64>?) -> Void)? {
        guard let feed else { return nil }
        return { input, readAt, bytes in
            let soFar = live.traceSoFar(at: MonotonicClock.nanoseconds())
            let arrival = TraceEvidence.mediaArrival(soFar, formatName: input.formatName, keyframeBytes: bytes)
            feed.firstKeyframe(readAt: readAt, arrivedAt: arrival?.keyframeLastByte)
        }
    }

    // MARK: Report

    private func report(_ trace: NetworkTrace, failure: ReportAssembler.Failure?) -> FirstFrameReport {
        var media = media
        media.formatName = input?.formatName
        media.streams = input?.streams ?? []
        media.firstKeyframeRead = queue.firstKeyframeRead
        media.firstKeyframeBytes = queue.firstKeyframeBytes
        return ReportAssembler(
            trace: trace,
            marks: marks,
            knobs: knobs,
            url: request.url,
            presetName: request.presetName,
            origin: request.origin,
            startedAt: request.startedAt,
            media: media,
            failure: failure,
            now: MonotonicClock.nanoseconds(),
            dnsCache: request.dnsCache
        )
        .report()
    }
}
