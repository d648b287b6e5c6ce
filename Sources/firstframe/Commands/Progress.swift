import FirstFrame
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Progress of a long command on standard error.
///
/// On a terminal, one line rewritten in place for each step that runs longer than a second (the step's label and
/// its elapsed time), erased when the step ends, so the results printed to standard output stay clean. Elsewhere
/// (a pipe, a CI log, `2> file`), where `\r` rewrites pile up as garbage, a plain line every
/// ``logInterval`` seconds — `bench: 40/120 opens, 12 s` — so a long run in a log still shows it is alive and how
/// far it got; nothing at all for a run shorter than that.
final class Progress: Sendable {
    /// Seconds between two lines when standard error is not a terminal.
    static let logInterval = 5.0

    private struct State {
        var completed = 0
    }

    private let command: String
    private let total: Int?
    private let unit: String
    private let start = MonotonicClock.nanoseconds()
    private let state = Mutex(State())
    private let isTerminal = isatty(STDERR_FILENO) != 0

    private init(command: String, total: Int?, unit: String) {
        self.command = command
        self.total = total
        self.unit = unit
    }

    /// Runs `body` with a progress report for `command` (its name in log lines) that counts `total` `unit`s
    /// (`nil`: elapsed time only). `body` marks them done with ``advance(by:)`` and wraps the slow parts in
    /// ``step(_:_:)`` for the terminal line.
    static func run<Result>(
        _ command: String,
        total: Int? = nil,
        unit: String = "opens",
        _ body: (Progress) async throws -> Result
    ) async rethrows -> Result {
        let progress = Progress(command: command, total: total, unit: unit)
        guard !progress.isTerminal else { return try await body(progress) }
        let logger = Task {
            while !Task.isCancelled {
                // Pacing the log lines, not waiting for anything.
                try await Task.sleep(for: .seconds(logInterval))
                progress.log()
            }
        }
        defer {
            logger.cancel()
            // A closing line, for a run long enough to have logged: the last count is the final one.
            if progress.elapsed >= logInterval { progress.log(suffix: ", done") }
        }
        return try await body(progress)
    }

    /// Today's one-shot form, for a single step of a command that counts nothing (`demo`): the terminal line only.
    static func run<Result>(_ label: String, _ work: () async throws -> Result) async rethrows -> Result {
        let progress = Progress(command: label, total: nil, unit: "")
        return try await progress.step(label, work)
    }

    /// Runs one step of the command; on a terminal, shows `label` and the step's elapsed time once it has taken
    /// a second, and erases the line when it ends.
    func step<Result>(_ label: String, _ work: () async throws -> Result) async rethrows -> Result {
        guard isTerminal else { return try await work() }
        let stepStart = MonotonicClock.nanoseconds()
        let ticker = Task {
            try await Task.sleep(for: .seconds(1))
            while !Task.isCancelled {
                let elapsed = Double(MonotonicClock.nanoseconds() - stepStart) / 1e9
                FileHandle.standardError.write(Data(String(format: "\r%@ %.1f s ", label, elapsed).utf8))
                try await Task.sleep(for: .milliseconds(250))
            }
        }
        defer {
            ticker.cancel()
            if MonotonicClock.nanoseconds() - stepStart >= 1_000_000_000 {
                FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            }
        }
        return try await work()
    }

    /// Marks `count` more units done.
    func advance(by count: Int = 1) {
        state.withLock { $0.completed += count }
    }

    private var elapsed: Double { Double(MonotonicClock.nanoseconds() - start) / 1e9 }

    private func log(suffix: String = "") {
        let completed = state.withLock { $0.completed }
        let count = total.map { "\(completed)/\($0) \(unit), " } ?? ""
        FileHandle.standardError.write(Data(String(format: "%@: %@%.0f s%@\n", command, count, elapsed, suffix).utf8))
    }
}
