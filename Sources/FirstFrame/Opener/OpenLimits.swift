import FirstFrameNetwork

/// What stops an open: its interrupter (the total deadline, the stage deadlines, the cancel switch) and the limit
/// the interrupter checks on every FFmpeg poll (the cap on requests, the deadlines of the network stages, a
/// playlist's failed segment), with why the limit held.
///
/// Made where the open is asked for (its cancel switch is pulled from the task's cancellation handler) and used on
/// the open's thread; `Sendable`, since both hold it.
struct OpenLimits: Sendable {
    /// Why the interrupter's limit stopped the open, set by the limit when it holds.
    enum LimitReason: Sendable {
        case requestCap
        /// A network stage (or the format probe) ran past its deadline, in milliseconds.
        case stageDeadline(Stage, Double)
        /// A playlist's segment answered with an HTTP error: FFmpeg's HLS demuxer would skip it and wait for the
        /// next one until the deadline.
        case segmentFailed(status: Int, url: String?)
    }

    let interrupter: Interrupter
    private let knobs: TuningKnobs
    private let limitReason: Locked<LimitReason?>

    /// - Parameters:
    ///   - origin: when the open was asked for (`MonotonicClock`): the network stages' deadlines run from here.
    ///   - feed: told the trace's new events on every poll (nil: nobody listens).
    ///   - live: the open's trace, read on every poll from where the last poll left off.
    init(knobs: TuningKnobs, url: String, origin: UInt64, feed: OpenEventFeed?, live: LiveTrace) {
        self.knobs = knobs
        let limitReason = Locked<LimitReason?>(nil)
        self.limitReason = limitReason
        self.interrupter = Interrupter(
            timeout: .seconds(knobs.totalDeadline),
            limit: Self.limit(
                knobs: knobs,
                origin: origin,
                feed: feed,
                live: live,
                watchesSegments: Self.isPlaylist(url),
                reason: limitReason
            )
        )
    }

    /// Whether `url` names a playlist (HLS), whose later requests the limit watches for HTTP errors.
    private static func isPlaylist(_ url: String) -> Bool {
        let path = url.split(separator: "?", maxSplits: 1).first.map(String.init)?.lowercased() ?? ""
        return path.hasSuffix(".m3u8") || path.hasSuffix(".m3u")
    }

    /// What the interrupter checks on every FFmpeg poll besides the deadlines it holds: the cap on requests
    /// (counted by the hooks as they happen), the deadlines of the stages inside `avformat_open_input`, which
    /// only the trace can tell apart, and for a playlist an HTTP error on a later request (a segment), which FFmpeg
    /// would skip and wait out. Runs on the open's thread, whose trace it reads (`live`: the events since the last
    /// poll); says why it held in `reason`. It also hands the trace's new events to the listener, if any (`feed`).
    private static func limit(
        knobs: TuningKnobs,
        origin: UInt64,
        feed: OpenEventFeed?,
        live: LiveTrace,
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
            guard !networkDeadlines.isEmpty || watchesSegments, NetworkTraceRecorder.isTracing else { return false }
            // Segments only: a variant or rendition playlist that fails is one FFmpeg marks broken and plays without.
            if watchesSegments, let failed = live.failedSegment(), let status = failed.status {
                reason.withLock { $0 = .segmentFailed(status: status, url: failed.url) }
                return true
            }
            let now = MonotonicClock.nanoseconds()
            let (stage, since) = StageTimeline.networkStageInProgress(hops: live.hops(), origin: origin, now: now)
            guard let limit = networkDeadlines[stage], now >= since + UInt64(limit * 1e6) else { return false }
            reason.withLock { $0 = .stageDeadline(stage, limit) }
            return true
        }
    }

    /// Whether the calling thread's trace has seen more than `maxRequests` connects or HTTP request heads: read by
    /// the limit on every poll, and after the run to tell the cap from a stage deadline (the limit checks both).
    static func requestCapExceeded(_ maxRequests: Int) -> Bool {
        let (connects, requests) = NetworkTraceRecorder.requestCountsSoFar()
        return max(connects, requests) > maxRequests
    }

    /// Starts `stage`'s deadline now (none when the knobs set none), in place of the stage before's.
    func startDeadline(of stage: Stage) {
        interrupter.setStageDeadline(
            knobs.stageDeadlines[stage].map { .now + .milliseconds($0) }
        )
    }

    /// Throws `stage`'s timeout (or the cancel) when the interrupter says stop: for calls that return normally
    /// when interrupted, or that never poll.
    func failIfInterrupted(_ stage: Stage) throws(PipelineFailure) {
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

    /// Whether the open's deadline or its stage's has passed, and it was not cancelled: what a wait that gave up
    /// (announced video that never came) reports as its own failure.
    var deadlinePassedUncancelled: Bool {
        !interrupter.isCancelled && (interrupter.hasTimedOut || interrupter.stageDeadlinePassed)
    }

    /// What stopped the open, if anything did, for the failure's classification and message: which deadline
    /// (the total one or a stage's), the cap on requests, or a segment's HTTP error.
    func interruption(marks: StageTimeline.MediaMarks) -> FailureClassification.Interruption {
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
}
