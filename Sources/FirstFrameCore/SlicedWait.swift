import Dispatch

/// A blocking wait that also ends at a deadline or on cancel: the waits of callers that FFmpeg's blocked threads
/// stand behind (a lookup's resolution, a job on the resolver pool), where the cancel switch is a flag to poll.
package enum SlicedWait {
    /// Calls `wait` with timeouts of at most 5 ms (so a cancel is noticed promptly; the awaited event itself wakes
    /// it at once) until it succeeds, `deadline` (`MonotonicClock` ns) passes or `isCancelled` holds. Returns
    /// whether `wait` succeeded.
    package static func wait(
        until deadline: UInt64,
        isCancelled: () -> Bool,
        _ wait: (DispatchTime) -> DispatchTimeoutResult
    ) -> Bool {
        while true {
            let now = MonotonicClock.nanoseconds()
            if now >= deadline || isCancelled() { return false }
            let slice = min(deadline - now, 5_000_000)
            if wait(.now() + .nanoseconds(Int(slice))) == .success { return true }
        }
    }
}
