import Dispatch
import Foundation

/// Threads for blocking work that are kept parked between jobs instead of started and ended for each one.
///
/// A job never waits for another: when no parked thread is free, a new one starts, so an open that blocks for
/// seconds on its network never holds up the next. What parking saves is not the start itself (~50 µs of CPU) but
/// what starting and ending a thread does to the whole process: its stack is mapped, guarded and, at its end,
/// given back with `madvise`, and each of those takes the process's memory-map lock. With many opens at once,
/// every thread of the process (page faults included) then queues on that lock. Parked threads keep their stacks
/// and their malloc arenas warm.
///
/// A thread parked longer than ``idleSeconds`` ends, and no more than ``maximumParked`` are kept.
package final class ParkedThreads: Sendable {
    /// The threads of ``DedicatedThread``: opens, kept streams' reads, blocking calls.
    package static let shared = ParkedThreads(maximumParked: 128, idleSeconds: 30)

    /// What a parked thread is called while it waits (the kernel's 15 characters): leak checks count these apart,
    /// like libdispatch's idle workers.
    package static let parkedThreadName = "ff.parked"

    package let maximumParked: Int
    package let idleSeconds: Double
    private let state = Locked(State())

    private struct State {
        var parked: [Worker] = []
        var started = 0
    }

    /// One thread: woken with a job, or by its idle timeout.
    private final class Worker: Sendable {
        let wake = DispatchSemaphore(value: 0)
        let job = Locked<(@Sendable () -> Void)?>(nil)
    }

    package init(maximumParked: Int, idleSeconds: Double) {
        self.maximumParked = max(0, maximumParked)
        self.idleSeconds = idleSeconds
    }

    /// Threads started so far (parked, busy or ended).
    package var startedCount: Int { state.withLock { $0.started } }
    /// Threads parked now.
    package var parkedCount: Int { state.withLock { $0.parked.count } }

    /// Runs `job` on a parked thread, or on a new one when none is free, with the thread named `name`.
    package func run(name: String, _ job: @escaping @Sendable () -> Void) {
        let named: @Sendable () -> Void = {
            Self.setCurrentThreadName(name)
            job()
        }
        if let worker = state.withLock({ $0.parked.popLast() }) {
            worker.job.withLock { $0 = named }
            worker.wake.signal()
            return
        }
        state.withLock { $0.started += 1 }
        let worker = Worker()
        worker.job.withLock { $0 = named }
        let thread = Thread { [self] in work(worker) }
        thread.name = name
        thread.start()
    }

    private func work(_ worker: Worker) {
        repeat { runJob(of: worker) } while park(worker)
    }

    /// Runs the worker's job and lets go of it before the thread parks: whatever the job holds (an open's input,
    /// its sockets) is freed when the job ends, not when the thread is next used.
    private func runJob(of worker: Worker) {
        worker.job.withLock { job in defer { job = nil }; return job }?()
    }

    /// Parks `worker` until a job comes; false when it should end instead (too many parked, or idle too long).
    private func park(_ worker: Worker) -> Bool {
        let kept = state.withLock { state -> Bool in
            guard state.parked.count < maximumParked else { return false }
            state.parked.append(worker)
            return true
        }
        guard kept else { return false }
        Self.setCurrentThreadName(Self.parkedThreadName)
        if worker.wake.wait(timeout: .now() + idleSeconds) == .success { return true }
        // Idle too long: end, unless a job took this worker off the parked list meanwhile (its signal is coming).
        let taken = state.withLock { state -> Bool in
            guard let index = state.parked.firstIndex(where: { $0 === worker }) else { return true }
            state.parked.remove(at: index)
            return false
        }
        if taken { worker.wake.wait() }
        return taken
    }

    private static func setCurrentThreadName(_ name: String) {
        // Foundation names the running thread for the system too (what `top -H` and debuggers show).
        if Thread.current.name != name { Thread.current.name = name }
    }
}
