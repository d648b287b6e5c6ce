import FirstFrame
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress indicator on standard error for work that runs longer than a second (only on a
/// terminal, so pipes and logs stay clean).
enum Progress {
    static func run<Result>(_ label: String, _ work: () async throws -> Result) async rethrows -> Result {
        guard isatty(STDERR_FILENO) != 0 else { return try await work() }
        let start = MonotonicClock.nanoseconds()
        let ticker = Task {
            try await Task.sleep(for: .seconds(1))
            while !Task.isCancelled {
                let elapsed = Double(MonotonicClock.nanoseconds() - start) / 1e9
                FileHandle.standardError.write(Data(String(format: "\r%@ %.1f s ", label, elapsed).utf8))
                try await Task.sleep(for: .milliseconds(250))
            }
        }
        defer {
            ticker.cancel()
            if MonotonicClock.nanoseconds() - start >= 1_000_000_000 {
                FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            }
        }
        return try await work()
    }
}
