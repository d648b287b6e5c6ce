import Synchronization

/// A deadline plus a cancel switch for one operation's blocking calls: what FFmpeg's interrupt callback polls
/// (`FirstFrameFFmpeg` binds it to `AVIOInterruptCB`) and what bounds the DNS cache's lookups on the operation's
/// thread (`FirstFrameNetwork`), which FFmpeg's own `getaddrinfo` never polls.
///
/// FFmpeg polls it before each 100 ms `poll()` while connecting and reading, and once per packet in
/// `avformat_find_stream_info`; a `true` ``shouldInterrupt`` makes the blocking call fail with `AVERROR_EXIT`.
public final class Interrupter: Sendable {
    /// The instant after which FFmpeg is told to stop; `nil` for no deadline.
    public var deadline: MonotonicInstant? { deadlineNanoseconds.map(MonotonicInstant.init(nanoseconds:)) }

    /// ``deadline`` as `MonotonicClock` nanoseconds, the unit of the network layer's lookup budgets.
    package var deadlineNanoseconds: UInt64? {
        let time = overallDeadline.load(ordering: .relaxed)
        return time == 0 ? nil : time
    }
    private let overallDeadline: Atomic<UInt64>
    private let cancelled = Atomic<Bool>(false)
    private let stageDeadline = Atomic<UInt64>(0)
    private let limit: (@Sendable () -> Bool)?
    private let limitReached = Atomic<Bool>(false)
    private let limitDisarmed = Atomic<Bool>(false)

    /// - Parameters:
    ///   - timeout: how long from now until the deadline (at most about 31 years), or `nil` for no deadline.
    ///   - limit: a condition of the caller's checked on every poll (a cap on requests, a stage's deadline that
    ///     needs the trace to tell); once it holds, the interrupter stops everything, like a cancel.
    public init(timeout: Duration? = nil, limit: (@Sendable () -> Bool)? = nil) {
        overallDeadline = Atomic(
            timeout.map { MonotonicClock.nanoseconds() + UInt64(min(max(0, $0.milliseconds), 1e12) * 1e6) } ?? 0
        )
        self.limit = limit
    }

    /// Ends what the deadline and the limit guarded (an open, up to its first picture): from now on only
    /// ``cancel()`` and the stage deadline (a kept stream's read timeout) stop a call. A limit that has already
    /// held keeps holding.
    public func disarm() {
        limitDisarmed.store(true, ordering: .relaxed)
        overallDeadline.store(0, ordering: .relaxed)
        stageDeadline.store(0, ordering: .relaxed)
    }

    /// Whether the `limit` given at init has held (it is checked on each ``shouldInterrupt``).
    public var hasReachedLimit: Bool { limitReached.load(ordering: .relaxed) }

    /// Makes every blocking FFmpeg call on the input return `AVERROR_EXIT` at its next poll.
    public func cancel() { cancelled.store(true, ordering: .relaxed) }

    public var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    /// Whether the deadline has passed, whether or not the operation was also cancelled.
    public var hasTimedOut: Bool {
        guard let deadline = deadlineNanoseconds else { return false }
        return MonotonicClock.nanoseconds() >= deadline
    }

    /// A second, movable deadline for the step in progress (nil for none): the opener sets one per stage.
    public func setStageDeadline(_ time: MonotonicInstant?) {
        stageDeadline.store(time?.nanoseconds ?? 0, ordering: .relaxed)
    }

    /// Whether the current stage's deadline has passed.
    public var stageDeadlinePassed: Bool {
        let time = stageDeadline.load(ordering: .relaxed)
        return time != 0 && MonotonicClock.nanoseconds() >= time
    }

    /// Whether a blocking call should stop now: cancelled, or past either deadline.
    public var shouldInterrupt: Bool {
        if isCancelled || hasTimedOut || stageDeadlinePassed || hasReachedLimit { return true }
        guard let limit, !limitDisarmed.load(ordering: .relaxed), limit() else { return false }
        limitReached.store(true, ordering: .relaxed)
        return true
    }
}
