import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The process's own figures, read from `/proc/self` (as Prometheus' Go client does for `process_*`) and
/// `getrusage`: for the exporter's `/metrics` and the benchmarks' CPU and memory figures.
package struct ProcessStats: Sendable, Equatable {
    /// User + system CPU time, seconds.
    package var cpuSeconds: Double
    package var residentBytes: Double
    package var virtualBytes: Double
    package var openFileDescriptors: Int
    package var threads: Int
    /// When the process started, seconds since 1970.
    package var startTimeSeconds: Double

    /// Nil off Linux or when /proc is not mounted.
    package static func current() -> ProcessStats? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8) else { return nil }
        // The command name (field 2) is in parentheses and may contain spaces: fields are counted after its ')'.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): num_threads is field 20, starttime 22, vsize 23, rss 24.
        func field(_ number: Int) -> Double? { fields.count > number - 3 ? Double(fields[number - 3]) : nil }
        guard let threads = field(20), let start = field(22), let vsize = field(23), let rss = field(24) else {
            return nil
        }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        // CPU from getrusage: the same user + system time as stat's utime/stime, in µs rather than clock ticks.
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu =
            Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(
                usage.ru_utime.tv_usec + usage.ru_stime.tv_usec
            ) / 1e6
        return ProcessStats(
            cpuSeconds: cpu,
            residentBytes: rss * page,
            virtualBytes: vsize,
            openFileDescriptors: descriptors,
            threads: Int(threads),
            startTimeSeconds: bootTime().map { $0 + start / ticks } ?? 0
        )
    }

    /// Seconds since 1970 at boot (`btime` in /proc/stat).
    private static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6)) }
    }
}
