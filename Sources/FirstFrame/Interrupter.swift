import CFFmpeg
import Synchronization

/// The `AVIOInterruptCB` behind an input: a deadline plus a cancel switch.
///
/// FFmpeg polls the callback before each 100 ms `poll()` while connecting and reading, and once per packet
/// in `avformat_find_stream_info`; returning non-zero makes the blocking call fail with `AVERROR_EXIT`.
/// (It is never polled during `getaddrinfo`.)
public final class Interrupter: Sendable {
    /// `MonotonicClock` nanoseconds after which FFmpeg is told to stop; `nil` for no deadline.
    public let deadline: UInt64?
    private let cancelled = Atomic<Bool>(false)
    private let stageDeadline = Atomic<UInt64>(0)

    /// - Parameter timeout: seconds from now, or `nil` for no deadline.
    public init(timeout: Double? = nil) {
        deadline = timeout.map { MonotonicClock.nanoseconds() + UInt64(max(0, $0) * 1e9) }
    }

    /// Makes every blocking FFmpeg call on the input return `AVERROR_EXIT` at its next poll.
    public func cancel() { cancelled.store(true, ordering: .relaxed) }

    public var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    /// Whether the deadline has passed (and the call was not cancelled).
    public var hasTimedOut: Bool {
        guard let deadline else { return false }
        return MonotonicClock.nanoseconds() >= deadline
    }

    /// A second, movable deadline for the step in progress (`MonotonicClock` ns; nil for none): the opener
    /// sets one per stage.
    public func setStageDeadline(_ time: UInt64?) {
        stageDeadline.store(time ?? 0, ordering: .relaxed)
    }

    /// Whether the current stage's deadline has passed.
    public var stageDeadlinePassed: Bool {
        let time = stageDeadline.load(ordering: .relaxed)
        return time != 0 && MonotonicClock.nanoseconds() >= time
    }

    var shouldInterrupt: Bool { isCancelled || hasTimedOut || stageDeadlinePassed }

    /// The C callback; `opaque` is an unretained `Interrupter` kept alive by its input.
    static let callback: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { opaque in
        guard let opaque else { return 0 }
        return Unmanaged<Interrupter>.fromOpaque(opaque).takeUnretainedValue().shouldInterrupt ? 1 : 0
    }
}
