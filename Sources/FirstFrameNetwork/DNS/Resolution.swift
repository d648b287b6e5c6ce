import Dispatch
import FirstFrameCore
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
        _ = SlicedWait.wait(until: deadline, isCancelled: isCancelled) { group.wait(timeout: $0) }
        return result.withLock { $0 }
    }

    func outcome() async -> Result<DNSAnswer, DNSError> {
        await withCheckedContinuation { continuation in
            group.notify(queue: .global()) { continuation.resume(returning: self.result.withLock { $0! }) }
        }
    }
}
