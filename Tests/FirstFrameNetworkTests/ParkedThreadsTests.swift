import FirstFrameCore
import FirstFrameTestSupport
import Foundation
import Testing

extension NetworkTests {
    /// The threads blocking work runs on: reused between jobs, never a wait for another job, ended when idle.
    @Suite struct ParkedThreadsTests {
        @Test func jobsOneAfterAnotherReuseOneThread() async throws {
            let pool = ParkedThreads(maximumParked: 4, idleSeconds: 30)
            var threads: Set<UInt64> = []
            for _ in 0..<20 {
                threads.insert(await Self.run(on: pool) { Self.currentThreadID() })
                // The job hands its result back before its thread parks: the next comes once it has.
                #expect(try await eventually(timeout: 5) { pool.parkedCount == 1 })
            }
            #expect(threads.count == 1)
            #expect(pool.startedCount == 1)
        }

        /// Eight jobs that each wait for all the others: they finish only if none waited for a thread.
        @Test func aJobNeverWaitsForAnother() async throws {
            let pool = ParkedThreads(maximumParked: 2, idleSeconds: 30)
            let arrived = Locked(0)
            let count = 8
            let finished = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<count {
                    group.addTask {
                        await Self.run(on: pool) {
                            arrived.withLock { $0 += 1 }
                            let deadline = Date().addingTimeInterval(10)
                            while arrived.withLock({ $0 }) < count, Date() < deadline { usleep(1000) }
                            return arrived.withLock { $0 } == count
                        }
                    }
                }
                return await group.reduce(true) { $0 && $1 }
            }
            #expect(finished)
            #expect(pool.startedCount == count)
            // No more than `maximumParked` stay: the rest end.
            #expect(try await eventually(timeout: 5) { pool.parkedCount == 2 })
        }

        @Test func anIdleThreadEnds() async throws {
            let pool = ParkedThreads(maximumParked: 4, idleSeconds: 0.2)
            _ = await Self.run(on: pool) { 0 }
            #expect(try await eventually(timeout: 5) { pool.parkedCount == 1 })
            #expect(try await eventually(timeout: 5) { pool.parkedCount == 0 })
            // A job after that starts a new thread.
            _ = await Self.run(on: pool) { 0 }
            #expect(pool.startedCount == 2)
        }

        private static func run<Value: Sendable>(on pool: ParkedThreads, _ job: @escaping @Sendable () -> Value) async -> Value {
            await withCheckedContinuation { continuation in
                pool.run(name: "test.job") { continuation.resume(returning: job()) }
            }
        }

        private static func currentThreadID() -> UInt64 {
            UInt64(pthread_self())
        }
    }
}
