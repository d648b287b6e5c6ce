import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The write end of the pipe the signal handler writes to (a signal handler can capture nothing).
nonisolated(unsafe) private var interruptPipeWrite: Int32 = -1

/// SIGINT and SIGTERM turned into a call, for a command that must clean up what it started (a namespace, servers)
/// before it exits.
///
/// The handler only writes a byte to a pipe (async-signal-safe); a thread of its own reads it and makes the call.
/// A handled signal, unlike an ignored one (`SIG_IGN`, which `DispatchSource` needs), is reset to its default in a
/// child at `exec`: the servers and scripts the command starts still stop on SIGTERM.
enum InterruptSignals {
    /// Runs `body`; the first SIGINT or SIGTERM while it runs calls `handler` once, later ones are ignored. The
    /// signals' default actions are back when `body` returns.
    static func handling<Result>(
        _ handler: @escaping @Sendable (Int32) -> Void,
        _ body: () async throws -> Result
    ) async rethrows -> Result {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return try await body() }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        interruptPipeWrite = writeEnd
        let reader = Thread {
            var signalNumber: Int32 = 0
            var handled = false
            // One Int32 per signal; end of file when `body` has returned.
            while read(readEnd, &signalNumber, MemoryLayout<Int32>.size) == MemoryLayout<Int32>.size {
                if !handled {
                    handled = true
                    handler(signalNumber)
                }
            }
            close(readEnd)
        }
        reader.start()
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber) { received in
                var value = received
                _ = write(interruptPipeWrite, &value, MemoryLayout<Int32>.size)
            }
        }
        defer {
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
            interruptPipeWrite = -1
            close(writeEnd)
        }
        return try await body()
    }
}
