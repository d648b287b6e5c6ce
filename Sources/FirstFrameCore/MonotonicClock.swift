#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Nanoseconds on `CLOCK_MONOTONIC`, the one clock every FirstFrame timestamp is taken on.
///
/// Swift's `ContinuousClock` is `CLOCK_BOOTTIME` on Linux; the network hooks stamp events from C with
/// `CLOCK_MONOTONIC`, so Swift code reads the same clock to keep the two comparable.
public enum MonotonicClock {
    public static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// Milliseconds (fractional) elapsed since `start`, a value of ``nanoseconds()``.
    public static func milliseconds(since start: UInt64) -> Double {
        Double(nanoseconds() &- start) / 1_000_000
    }
}
