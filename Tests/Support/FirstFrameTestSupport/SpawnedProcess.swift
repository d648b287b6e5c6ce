import FirstFrameCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn` in a process group of its own (so it and anything it starts can be
/// killed together), with default signal handling (the test process blocks some signals, and a child would
/// inherit that), standard input from /dev/null and its output (both streams) in a file.
package final class SpawnedProcess: @unchecked Sendable {
    package let pid: pid_t
    package let output: URL
    private let lock = NSLock()
    private var reaped = false
    private var exitStatus: Int32?

    package init(_ path: String, _ arguments: [String], output: URL) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(
            &attributes,
            Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        )
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGCHLD, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, path, &actions, &attributes, argv, environ)
        guard status == 0 else {
            throw MediaFixtures.Failure(description: "posix_spawn \(path): \(String(cString: strerror(status)))")
        }
        pid = child
        self.output = output
    }

    /// What the process wrote so far.
    package var printed: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    /// Whether the process has exited (reaping it if so).
    package func hasExited() -> Bool {
        lock.withLock {
            if reaped { return true }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                reaped = true
                exitStatus = status
            }
            return reaped
        }
    }

    /// The raw wait status once reaped.
    package var status: Int32? { lock.withLock { exitStatus } }

    /// Sends `signal` to the process alone.
    package func signal(_ signal: Int32) {
        lock.withLock {
            guard !reaped else { return }
            _ = Glibc.kill(pid, signal)
        }
    }

    /// Waits for the process to exit, polling, for up to `timeout` seconds; whether it exited.
    package func wait(timeout: Double) -> Bool {
        wait(until: MonotonicClock.nanoseconds() + UInt64(timeout * 1e9))
    }

    /// Waits for the process to exit, polling, until `deadline` (`MonotonicClock` ns); whether it exited.
    package func wait(until deadline: UInt64) -> Bool {
        while MonotonicClock.nanoseconds() < deadline {
            if hasExited() { return true }
            usleep(10_000)
        }
        return hasExited()
    }

    /// SIGTERM, up to `grace` seconds to exit, then SIGKILL to the whole process group; reaps the child.
    package func stop(grace: Double = 5) {
        signal(SIGTERM)
        if !wait(timeout: grace) { kill() }
    }

    /// SIGKILL to the whole process group, then reaps the child.
    package func kill() {
        lock.withLock {
            guard !reaped else { return }
            _ = Glibc.kill(-pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1, errno == EINTR {}
            reaped = true
            exitStatus = status
        }
    }

    deinit { kill() }
}
