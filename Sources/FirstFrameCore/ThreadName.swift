import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Names the calling thread so that `top -H`, `gdb` and `perf` show what it does.
///
/// On Linux, Foundation applies a `Thread`'s name only when it is set from inside the thread, and the kernel keeps
/// at most 15 bytes: a name set before `start()`, or a longer one, is silently not applied (the thread keeps its
/// parent's name, such as a dispatch worker's `oot.default-qos`). So each FirstFrame thread names itself first
/// thing, with the project's prefix shortened to `ff.` and the rest cut to fit.
package enum ThreadName {
    /// The kernel's limit on a thread name, in bytes (without the terminating NUL).
    package static let maximumBytes = 15

    /// `name` as the kernel will keep it: `FirstFrame.`/`firstframe.` shortened to `ff.`, then cut to 15 bytes
    /// at a character boundary.
    package static func fitted(_ name: String) -> String {
        var short = Substring(name)
        for prefix in ["FirstFrame.", "firstframe."] where short.hasPrefix(prefix) {
            short = "ff." + short.dropFirst(prefix.count)
        }
        var result = ""
        for character in short {
            guard result.utf8.count + String(character).utf8.count <= maximumBytes else { break }
            result.append(character)
        }
        return result
    }

    /// Names the calling thread `fitted(name)`, for the kernel (`/proc/thread-self/comm`, what `prctl(PR_SET_NAME)`
    /// sets) and for Foundation's `Thread.current.name`.
    package static func applyToCurrentThread(_ name: String) {
        let short = fitted(name)
        #if os(Linux)
        let descriptor = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        if descriptor >= 0 {
            _ = short.withCString { write(descriptor, $0, strlen($0)) }
            close(descriptor)
        }
        #endif
        Thread.current.name = short
    }
}
