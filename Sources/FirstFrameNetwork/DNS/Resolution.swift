import FirstFrameCore
import Dispatch
import Logging

/// One resolution in flight, awaited by blocked FFmpeg threads and by tasks alike.
final class Resolution: @unchecked Sendable {
    // DispatchGroup releases every waiter at once; `result` is written once, before `leave()`.
    private let group = DispatchGroup()
    private let result = Locked<Result<DNSAnswer, DNSError>?>(nil)

    init() { group.enter() }

    func finish(_ outcome: Result<DNSAnswer, DNSError>) {
        result.withLock { $0 = outcome }
        group.leave()
    }

    /// Waits until the answer, `deadline` (MonotonicClock ns) or cancellation; `nil` for the latter two.
    func wait(until deadline: UInt64, isCancelled: () -> Bool) -> Result<DNSAnswer, DNSError>? {
        while true {
            let now = MonotonicClock.nanoseconds()
            if now >= deadline || isCancelled() { return result.withLock { $0 } }
            // Slices of at most 5 ms so a cancel is noticed promptly; the answer itself wakes us at once.
            let slice = min(deadline - now, 5_000_000)
            if group.wait(timeout: .now() + .nanoseconds(Int(slice))) == .success { return result.withLock { $0 } }
        }
    }

    func outcome() async -> Result<DNSAnswer, DNSError> {
        await withCheckedContinuation { continuation in
            group.notify(queue: .global()) { continuation.resume(returning: self.result.withLock { $0! }) }
        }
    }
}
