import Dispatch
import Foundation

/// A bounded set of threads for calls that block and cannot be interrupted (libc's `getaddrinfo`, libresolv's
/// queries), so that a caller can stop waiting at its deadline while the call runs on.
///
/// A hung resolver then costs at most ``maximumThreads`` blocked threads, however many lookups are abandoned;
/// further jobs queue until a thread is free. Threads are started on demand and kept parked, so a job costs a
/// hand-off (tens of microseconds), not a thread start.
package final class BlockingPool: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var started = 0
        var idle = 0
    }

    /// The pool for resolver work: every lookup FirstFrame runs off its caller's thread.
    package static let resolvers = BlockingPool(name: "FirstFrame.resolver", maximumThreads: 8)

    package let name: String
    package let maximumThreads: Int
    private let state = Locked(State())
    private let pending = DispatchSemaphore(value: 0)

    package init(name: String, maximumThreads: Int) {
        self.name = name
        self.maximumThreads = max(1, maximumThreads)
    }

    /// Threads started so far (never more than ``maximumThreads``; they stay parked when idle).
    package var threadCount: Int { state.withLock { $0.started } }

    /// Queues `job`; it runs on one of the pool's threads as soon as one is free.
    package func submit(_ job: @escaping @Sendable () -> Void) {
        let spawn = state.withLock { state -> Bool in
            state.jobs.append(job)
            guard state.idle < state.jobs.count, state.started < maximumThreads else { return false }
            state.started += 1
            return true
        }
        pending.signal()
        if spawn {
            let thread = Thread { [self] in
                ThreadName.applyToCurrentThread(name)
                work()
            }
            thread.start()
        }
    }

    /// Runs `job` on the pool and waits for it until `deadline` (`MonotonicClock` ns) or until `isCancelled`
    /// holds (polled every few ms). Returns nil when the wait ended first; the job still runs to its end, and
    /// `discard` gets its late result (to free what it allocated).
    package func run<Value: Sendable>(
        until deadline: UInt64?,
        isCancelled: () -> Bool = { false },
        discard: @escaping @Sendable (Value) -> Void = { _ in },
        _ job: @escaping @Sendable () -> Value
    ) -> Value? {
        // Already stopped: the job is not worth starting.
        if isCancelled() || deadline.map({ MonotonicClock.nanoseconds() >= $0 }) == true { return nil }
        let handOff = HandOff<Value>(discard: discard)
        submit { handOff.deliver(job()) }
        return handOff.wait(until: deadline ?? .max, isCancelled: isCancelled)
    }

    /// Runs `job` on the pool and resumes the caller with its result.
    package func run<Value: Sendable>(_ job: @escaping @Sendable () -> Value) async -> Value {
        await withCheckedContinuation { continuation in
            submit { continuation.resume(returning: job()) }
        }
    }

    private func work() {
        while true {
            state.withLock { $0.idle += 1 }
            pending.wait()
            let job = state.withLock { state -> (@Sendable () -> Void)? in
                state.idle -= 1
                return state.jobs.isEmpty ? nil : state.jobs.removeFirst()
            }
            job?()
        }
    }
}

/// One job's result, passed from the pool's thread to a waiter that may have left.
private final class HandOff<Value: Sendable>: Sendable {
    private enum Slot {
        case waiting
        case delivered(Value)
        case abandoned
    }

    private let slot = Locked(Slot.waiting)
    private let done = DispatchSemaphore(value: 0)
    private let discard: @Sendable (Value) -> Void

    init(discard: @escaping @Sendable (Value) -> Void) { self.discard = discard }

    func deliver(_ value: Value) {
        let late = slot.withLock { slot -> Bool in
            if case .abandoned = slot { return true }
            slot = .delivered(value)
            return false
        }
        if late { discard(value) } else { done.signal() }
    }

    func wait(until deadline: UInt64, isCancelled: () -> Bool) -> Value? {
        _ = SlicedWait.wait(until: deadline, isCancelled: isCancelled) { done.wait(timeout: $0) }
        return slot.withLock { slot -> Value? in
            if case .delivered(let value) = slot { return value }
            slot = .abandoned
            return nil
        }
    }
}
