import Foundation
import Synchronization

/// Runs blocking work on a thread of its own and resumes the caller when it is done.
///
/// FFmpeg's calls block in `poll()`, `recv()` and `getaddrinfo`; on Swift's cooperative pool (as many
/// threads as cores) two of them would stall every task in the process. Each call here gets a thread to itself
/// for as long as it runs: a parked one from ``ParkedThreads/shared`` when one is free, a new one otherwise, so a
/// call never waits for another.
public enum DedicatedThread {
    /// Whether calls reuse parked threads (the default) or start and end a thread each: for the benchmark that
    /// compares the two in one run.
    package static let reusesThreads = Atomic<Bool>(true)

    public static func run<Result: Sendable>(
        name: String,
        _ work: @escaping @Sendable () throws -> Result
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            let job: @Sendable () -> Void = { continuation.resume(with: Swift.Result { try work() }) }
            if reusesThreads.load(ordering: .relaxed) {
                ParkedThreads.shared.run(name: name, job)
            } else {
                let thread = Thread(block: job)
                thread.name = name
                thread.start()
            }
        }
    }
}
