import FirstFrameFFmpeg
import FirstFrameNetwork

/// Builds an open's ``FirstFrameReport`` from what was recorded: the network trace, the media marks, the knobs,
/// what the input said of itself, and the failure if there was one.
///
/// Pure: no FFmpeg call and no clock read (``now`` is given), so recorded evidence always gives the same report
/// (`ReportAssemblerTests` feeds it fixtures).
///
/// - Stages: ``StageTimeline`` lays the network stages of each hop and the media stages at their marks end to end.
/// - Causes: ``CauseTimeline`` splits the same time by when the bytes arrived (``TraceEvidence``).
/// - Failure: ``FailureClassification`` names the stage and kind from the evidence.
package struct ReportAssembler {
    /// What the input said of itself, read on the open's thread before the report is assembled.
    package struct Media {
        /// The demuxer (`flv`, `hls`, …); nil when there is no input (or it was not handed on).
        package var formatName: String?
        /// The input's streams as the report describes them (parameters completed, when the open got that far).
        package var streams: [StreamInfo] = []
        /// The video stream the first picture came from.
        package var videoIndex: Int?
        /// The first picture's size: a stream whose parameters say none reports it.
        package var pictureWidth: Int?
        package var pictureHeight: Int?
        /// When the demuxer handed out the first video keyframe (`MonotonicClock`).
        package var firstKeyframeRead: UInt64?
        /// Where the first keyframe's bytes start and end in the input.
        package var firstKeyframeBytes: Range<Int64>?
        /// When the first audio frame came out of its decoder.
        package var firstAudioFrame: UInt64?
        /// How the decoder reached the first picture.
        package var firstPictureDecode: FirstFrameReport.FirstPictureDecode?

        package init(formatName: String? = nil) {
            self.formatName = formatName
        }
    }

    /// Why the pipeline stopped: the error it threw, and what the interrupter knew then.
    package struct Failure {
        package var error: any Error
        package var interruption: FailureClassification.Interruption

        package init(error: any Error, interruption: FailureClassification.Interruption = .init()) {
            self.error = error
            self.interruption = interruption
        }
    }

    package var trace: NetworkTrace
    package var marks: StageTimeline.MediaMarks
    package var knobs: TuningKnobs
    /// The URL opened (redacted in the report).
    package var url: String
    package var presetName: String?
    /// When the open was asked for (`MonotonicClock`): the report's 0.
    package var origin: UInt64
    /// The wall clock at ``origin`` (seconds since 1970).
    package var startedAt: Double
    package var media: Media
    package var failure: Failure?
    /// When the report is made (`MonotonicClock`): what had not ended by then (the format probe of an open that
    /// failed inside it, the failure's stage) ends here.
    package var now: UInt64
    /// The cache that answered the open's lookups, for the edge each one chose (nil: the installed one).
    package var dnsCache: DNSCache?

    package init(
        trace: NetworkTrace,
        marks: StageTimeline.MediaMarks,
        knobs: TuningKnobs,
        url: String,
        presetName: String? = nil,
        origin: UInt64,
        startedAt: Double = 0,
        media: Media = Media(),
        failure: Failure? = nil,
        now: UInt64,
        dnsCache: DNSCache? = nil
    ) {
        self.trace = trace
        self.marks = marks
        self.knobs = knobs
        self.url = url
        self.presetName = presetName
        self.origin = origin
        self.startedAt = startedAt
        self.media = media
        self.failure = failure
        self.now = now
        self.dnsCache = dnsCache
    }

    /// A report for an open that stopped before its pipeline ran (a refused input, a thread that could not start):
    /// `stage` and `kind` are its failure.
    static func notRun(
        url: String,
        presetName: String?,
        knobs: TuningKnobs,
        failure: FirstFrameReport.Failure
    ) -> FirstFrameReport {
        var report = FirstFrameReport(url: InputPolicy.redacted(url), preset: presetName, knobs: knobs)
        report.error = failure
        return report
    }

    package func report() -> FirstFrameReport {
        var report = FirstFrameReport(url: InputPolicy.redacted(url), preset: presetName, knobs: knobs)
        report.startedAt = startedAt
        var timeline = stages()
        // The causes end where the stages do: at the first picture, or when the failure was classified.
        let failed = failure.map(classify)
        if let failed { timeline.close(failed.stage, at: now) }
        report.error = failed
        report.outcome = failed == nil ? .ok : .failed
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
        let arrival = TraceEvidence.mediaArrival(
            trace,
            formatName: media.formatName,
            keyframeBytes: media.firstKeyframeBytes,
            exchanges: exchanges
        )
        report.causes = causes(
            arrival: arrival,
            end: failed == nil ? marks.firstVideoFrame ?? now : now,
            stages: timeline.spans,
            firstPictureMs: report.summary.firstVideoFrameMs
        )
        report.milestones = milestones(arrival: arrival, timeline: timeline)
        report.floor = floor(
            arrival: arrival,
            exchanges: exchanges,
            end: failed == nil ? marks.firstVideoFrame ?? now : now,
            report: report
        )
        describeNetwork(in: &report, exchanges: exchanges, timeline: timeline)
        report.streams = streams()
        report.firstPictureDecode = media.firstPictureDecode
        report.advice = AdviceRules.advice(for: report)
        return report
    }

    /// The failure's stage and kind, from the evidence (``FailureClassification``).
    private func classify(_ failure: Failure) -> FirstFrameReport.Failure {
        FailureClassification.classify(
            trace: trace,
            marks: marks,
            error: failure.error,
            interruption: failure.interruption,
            allowedProtocols: knobs.allowedProtocols
        )
    }

    /// The stages: the network stages of each hop up to the end of the format probe (or ``now``), then each media
    /// stage closed at its mark.
    private func stages() -> StageTimeline {
        var timeline = StageTimeline(origin: origin)
        timeline.addNetwork(trace.hops, until: marks.formatProbed ?? now)
        if let time = marks.formatProbed { timeline.close(.formatProbe, at: time) }
        if let time = marks.streamInfoFound { timeline.close(.streamInfo, at: time) }
        if let time = marks.bufferReady { timeline.close(.buffering, at: time) }
        if let time = marks.firstVideoFrame { timeline.close(.decode, at: time) }
        return timeline
    }

    /// The causes, tiling [0, `end`] from when the bytes arrived.
    private func causes(
        arrival: CauseTimeline.MediaArrival?,
        end: UInt64,
        stages: [FirstFrameReport.StageSpan],
        firstPictureMs: Double?
    ) -> FirstFrameReport.CauseBreakdown {
        FirstFrameReport.CauseBreakdown(
            spans: CauseTimeline.spans(
                origin: origin,
                end: end,
                hops: trace.hops,
                media: arrival,
                instants: .init(
                    keyframeRead: media.firstKeyframeRead,
                    decodeStart: marks.bufferReady,
                    firstPicture: marks.firstVideoFrame
                ),
                stages: stages
            ),
            keyframeArrival: arrival?.keyframeLastByte != nil ? .network : .demuxer,
            firstPictureMs: firstPictureMs
        )
    }

    /// The floor (``FloorEstimator``): the stream's keyframe wait counts in it only when the trace shows when the
    /// keyframe arrived (from the demuxer's read it may be the client's own reading); one decode is the shorter of
    /// the decode stage and the decode cause (either may hold waits a decode alone does not have).
    private func floor(
        arrival: CauseTimeline.MediaArrival?,
        exchanges: [RTMPExchange?],
        end: UInt64,
        report: FirstFrameReport
    ) -> FirstFrameReport.Floor? {
        let causes = report.causes
        let decodes = [report.summary.decodeMs, causes?[.decode] ?? 0].filter { $0 > 0 }
        return FloorEstimator(
            trace: trace,
            exchanges: exchanges,
            arrival: arrival,
            keyframeBytes: media.firstKeyframeBytes,
            end: end,
            keyframeWaitMs: causes?.keyframeArrival == .network ? causes?[.keyframeWait] ?? 0 : 0,
            decodeMs: decodes.min() ?? 0,
            firstPictureMs: report.summary.firstVideoFrameMs
        ).floor()
    }

    /// The milestones: the first keyframe's is when its last byte arrived, when the trace shows it, else when the
    /// demuxer handed it out.
    private func milestones(
        arrival: CauseTimeline.MediaArrival?,
        timeline: StageTimeline
    ) -> FirstFrameReport.Milestones {
        .init(
            firstByteMs: trace.hops.last?.responseStart.map(timeline.milliseconds),
            firstKeyframeMs: (arrival?.keyframeLastByte ?? media.firstKeyframeRead).map(timeline.milliseconds),
            firstVideoFrameMs: marks.firstVideoFrame.map(timeline.milliseconds),
            firstAudioFrameMs: media.firstAudioFrame.map(timeline.milliseconds)
        )
    }

    /// The hops (with each RTMP hop's exchange in `exchanges`), what the playlists say, the edge each lookup chose,
    /// and whether the TLS peer was verified.
    private func describeNetwork(
        in report: inout FirstFrameReport,
        exchanges: [RTMPExchange?],
        timeline: StageTimeline
    ) {
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
    }

    /// The streams as the report gives them: a video stream whose parameters have no size (FLV without
    /// `avformat_find_stream_info`) takes the first picture's.
    private func streams() -> [FirstFrameReport.Stream] {
        media.streams.map { stream in
            let isVideo = stream.kind == .video
            let isFirstPictures = stream.index == media.videoIndex
            let width =
                isVideo ? (stream.width > 0 ? stream.width : (isFirstPictures ? media.pictureWidth : nil)) : nil
            let height =
                isVideo ? (stream.height > 0 ? stream.height : (isFirstPictures ? media.pictureHeight : nil)) : nil
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
}
