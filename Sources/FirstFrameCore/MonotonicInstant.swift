/// An instant on `CLOCK_MONOTONIC`, the clock every FirstFrame timestamp is taken on (the network hooks stamp their
/// events with it from C).
///
/// A typed instant, so that an instant and an interval cannot be mixed up: instants subtract to a `Duration` and
/// advance by one. ``nanoseconds`` is the raw value the hooks and the trace carry.
public struct MonotonicInstant: InstantProtocol, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the clock's (arbitrary) origin.
    public var nanoseconds: UInt64

    /// The instant `nanoseconds` after the clock's origin.
    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// Now.
    public static var now: MonotonicInstant { MonotonicInstant(nanoseconds: MonotonicClock.nanoseconds()) }

    public func advanced(by duration: Duration) -> MonotonicInstant {
        let (seconds, attoseconds) = duration.components
        let delta = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        return MonotonicInstant(nanoseconds: delta >= 0 ? nanoseconds &+ UInt64(delta) : nanoseconds &- UInt64(-delta))
    }

    public func duration(to other: MonotonicInstant) -> Duration {
        other.nanoseconds >= nanoseconds
            ? .nanoseconds(Int64(other.nanoseconds - nanoseconds))
            : .nanoseconds(-Int64(nanoseconds - other.nanoseconds))
    }

    /// The duration from `rhs` to `lhs`.
    public static func - (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Duration { rhs.duration(to: lhs) }

    /// The instant `rhs` after `lhs`.
    public static func + (lhs: MonotonicInstant, rhs: Duration) -> MonotonicInstant { lhs.advanced(by: rhs) }

    public static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public var description: String { "\(nanoseconds) ns (monotonic)" }
}

extension Duration {
    /// The duration in milliseconds, fractional: the unit of the report's JSON and of human output.
    public var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
