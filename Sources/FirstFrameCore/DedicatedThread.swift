import Foundation

/// Runs blocking work on a thread of its own and resumes the caller when it is done.
///
/// FFmpeg's calls block in `poll()`, `recv()` and `getaddrinfo`; on Swift's cooperative pool (as many
/// threads as cores) two of them would stall every task in the process. Each call here gets a fresh
/// `Thread`, which is cheap next to the network round trips it waits for.
public enum DedicatedThread {
    public static func run<Result: Sendable>(
        name: String,
        _ work: @escaping @Sendable () throws -> Result
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                ThreadName.applyToCurrentThread(name)
                continuation.resume(with: Swift.Result { try work() })
            }
            thread.start()
        }
    }
}
