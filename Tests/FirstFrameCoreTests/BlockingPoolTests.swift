import Dispatch
import Foundation
import Synchronization
import Testing

@testable import FirstFrameCore

@Suite struct BlockingPoolTests {
    @Test func neverStartsMoreThanItsThreads() async {
        let pool = BlockingPool(name: "test.pool", maximumThreads: 2)
        let release = DispatchSemaphore(value: 0)
        let running = Atomic<Int>(0)
        let peak = Atomic<Int>(0)
        let done = DispatchGroup()
        for _ in 0..<6 {
            done.enter()
            pool.submit {
                let now = running.add(1, ordering: .relaxed).newValue
                _ = peak.max(now, ordering: .relaxed)
                release.wait()
                running.subtract(1, ordering: .relaxed)
                done.leave()
            }
        }
        for _ in 0..<6 { release.signal() }
        await withCheckedContinuation { continuation in
            done.notify(queue: .global()) { continuation.resume() }
        }
        #expect(pool.threadCount == 2)
        let peakRunning = peak.load(ordering: .relaxed)
        #expect(peakRunning <= 2)
    }

    @Test func aWaiterLeavesAtItsDeadlineAndTheLateResultIsDiscarded() {
        let pool = BlockingPool(name: "test.pool.deadline", maximumThreads: 1)
        let release = DispatchSemaphore(value: 0)
        let discarded = DispatchSemaphore(value: 0)
        let result = pool.run(
            until: MonotonicClock.nanoseconds() + 20_000_000,
            discard: { (value: Int) in
                #expect(value == 42)
                discarded.signal()
            },
            {
                release.wait()
                return 42
            }
        )
        #expect(result == nil)
        release.signal()
        #expect(discarded.wait(timeout: .now() + 5) == .success)
    }

    @Test func aCancelledCallerDoesNotStartTheJob() {
        let pool = BlockingPool(name: "test.pool.cancel", maximumThreads: 1)
        let started = Atomic<Bool>(false)
        let result: Int? = pool.run(
            until: nil,
            isCancelled: { true },
            {
                started.store(true, ordering: .relaxed)
                return 1
            }
        )
        #expect(result == nil)
        #expect(pool.threadCount == 0)
        let didStart = started.load(ordering: .relaxed)
        #expect(!didStart)
    }
}

@Suite struct DedicatedThreadTests {
    @Test func runsOnANamedThreadOfItsOwn() async throws {
        let name = try await DedicatedThread.run(name: "FirstFrame.test.thread") { () -> String in
            // The kernel's name of the calling thread.
            let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
            return comm.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(name == "ff.test.thread")
    }

    @Test func poolThreadsNameThemselves() async {
        let pool = BlockingPool(name: "FirstFrame.resolver", maximumThreads: 1)
        let name = await pool.run { () -> String in
            let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
            return comm.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(name == "ff.resolver")
    }

    @Test(arguments: [
        ("FirstFrame.open", "ff.open"),
        ("FirstFrame.record.finish", "ff.record.finis"),
        ("firstframe.origin.synthesis", "ff.origin.synth"),
        ("bench.floor", "bench.floor"),
        ("ééééééééé", "ééééééé"),
    ])
    func namesFitTheKernelsLimit(name: String, fitted: String) {
        #expect(ThreadName.fitted(name) == fitted)
        #expect(ThreadName.fitted(name).utf8.count <= ThreadName.maximumBytes)
    }

    @Test func errorsReachTheCaller() async {
        struct Failure: Error {}
        await #expect(throws: Failure.self) { try await DedicatedThread.run(name: "t") { throw Failure() } }
    }
}
