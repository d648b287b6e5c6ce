import Dispatch
import FirstFrameCore
import Logging

/// One resolution in flight, awaited by blocked FFmpeg threads and by tasks alike.
///
/// It may run as a race: the first query, and a hedged second one started when the first has not answered after
/// the cache's `lookupHedge` (a lost UDP query or answer is otherwise retried only after libresolv's timeout). The
/// first success settles it; a failure settles it only once no other attempt runs.
final class Resolution: @unchecked Sendable {
    private struct Race {
        var running = 1
        var settled = false
        /// 1: the first query; 2: the hedge.
        var answeredBy = 0
        var hedged = false
    }

    // DispatchGroup releases every waiter at once; `result` is written once, before `leave()`.
    private let group = DispatchGroup()
    private let result = Locked<Result<DNSAnswer, DNSError>?>(nil)
    private let race = Locked(Race())

    init() { group.enter() }

    /// Counts a hedged attempt about to start; false (start nothing) when the resolution is already settled.
    func startHedge() -> Bool {
        race.withLock { race in
            guard !race.settled, !race.hedged else { return false }
            race.hedged = true
            race.running += 1
            return true
        }
    }

    /// Whether attempt `attempt`'s `outcome` settles the resolution: the first success does, a failure only when no
    /// other attempt still runs. False for every later offer (the loser's answer is dropped).
    func accepts(_ outcome: Result<DNSAnswer, DNSError>, attempt: Int) -> Bool {
        race.withLock { race in
            race.running -= 1
            guard !race.settled else { return false }
            if case .failure = outcome, race.running > 0 { return false }
            race.settled = true
            race.answeredBy = attempt
            return true
        }
    }

    /// Whether the hedged second query gave the answer.
    var answeredByHedge: Bool { race.withLock { $0.answeredBy == 2 } }

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
