import Foundation

/// When a recorder opens its stream again: at once after a stream that ended, then with exponential backoff,
/// jittered and capped, while opens keep failing.
public struct ReconnectPolicy: Sendable, Hashable, Codable {
    /// Seconds before the second attempt in a row that fails to open.
    public var initialDelay: Double
    /// Each further failure multiplies the delay by this.
    public var multiplier: Double
    /// The longest delay, seconds.
    public var maximumDelay: Double
    /// A fraction of the delay added or taken away at random (0.2 = ±20 %), so that channels that dropped together
    /// do not all come back at the same instant.
    public var jitter: Double
    /// Attempts in a row that fail to reach a first picture before the recorder gives up; nil = never. An
    /// attempt that records resets the count.
    public var maxAttempts: Int?

    public init(initialDelay: Double = 0.5, multiplier: Double = 2, maximumDelay: Double = 30, jitter: Double = 0.2,
                maxAttempts: Int? = nil) {
        self.initialDelay = initialDelay
        self.multiplier = multiplier
        self.maximumDelay = maximumDelay
        self.jitter = jitter
        self.maxAttempts = maxAttempts
    }

    /// Seconds to wait before the next attempt after `failures` attempts in a row that did not open (0 after a
    /// stream that ended: reconnect at once).
    public func delay(afterFailures failures: Int, random: Double = Double.random(in: -1...1)) -> Double {
        guard failures > 0 else { return 0 }
        let exponential = initialDelay * pow(multiplier, Double(failures - 1))
        let capped = min(maximumDelay, exponential)
        return max(0, capped * (1 + jitter * max(-1, min(1, random))))
    }

    /// Whether the recorder may try again after `failures` attempts in a row that did not open.
    public func allowsAttempt(afterFailures failures: Int) -> Bool {
        maxAttempts.map { failures < $0 } ?? true
    }
}
