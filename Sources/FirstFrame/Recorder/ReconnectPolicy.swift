import Foundation

/// When a recorder opens its stream again: at once after a stream that ended, then with exponential backoff,
/// jittered and capped, while opens keep failing.
///
/// Every value is checked when the policy is made (and again by ``Recorder/Configuration/validate()``,
/// since the properties can be changed afterwards): a number that is not finite or lies outside its documented
/// range throws ``RecorderParameterError`` naming it.
public struct ReconnectPolicy: Sendable, Hashable, Codable {
    /// Seconds before the second attempt in a row that fails to open: in ``delayRange``.
    public var initialDelay: Double
    /// Each further failure multiplies the delay by this: in ``multiplierRange``.
    public var multiplier: Double
    /// The longest delay, seconds: in ``delayRange``.
    public var maximumDelay: Double
    /// A fraction of the delay added or taken away at random (0.2 = ±20 %), so that channels that dropped together
    /// do not all come back at the same instant: in ``jitterRange``.
    public var jitter: Double
    /// Attempts in a row that fail to reach a first picture before the recorder gives up; nil = never. An
    /// attempt that records resets the count. In ``maxAttemptsRange``.
    public var maxAttempts: Int?

    /// Seconds ``initialDelay`` and ``maximumDelay`` may take: 0 to an hour.
    public static let delayRange: ClosedRange<Double> = 0...3600
    /// What ``multiplier`` may be: 1 (a constant delay) to 100.
    public static let multiplierRange: ClosedRange<Double> = 1...100
    /// What ``jitter`` may be: 0 (none) to 1 (±100 %).
    public static let jitterRange: ClosedRange<Double> = 0...1
    /// What ``maxAttempts`` may be, when it is set: 1 to a million.
    public static let maxAttemptsRange: ClosedRange<Int> = 1...1_000_000

    /// The default policy: 0.5 s, doubling, capped at 30 s, ±20 %, never giving up.
    public static let standard = ReconnectPolicy(
        checkedInitialDelay: 0.5,
        multiplier: 2,
        maximumDelay: 30,
        jitter: 0.2,
        maxAttempts: nil
    )

    /// - Throws: ``RecorderParameterError`` naming the first value that is not finite or lies outside its range
    ///   (``delayRange``, ``multiplierRange``, ``jitterRange``, ``maxAttemptsRange``).
    public init(
        initialDelay: Double = 0.5,
        multiplier: Double = 2,
        maximumDelay: Double = 30,
        jitter: Double = 0.2,
        maxAttempts: Int? = nil
    ) throws(RecorderParameterError) {
        self.init(
            checkedInitialDelay: initialDelay,
            multiplier: multiplier,
            maximumDelay: maximumDelay,
            jitter: jitter,
            maxAttempts: maxAttempts
        )
        try validate()
    }

    private init(
        checkedInitialDelay initialDelay: Double,
        multiplier: Double,
        maximumDelay: Double,
        jitter: Double,
        maxAttempts: Int?
    ) {
        self.initialDelay = initialDelay
        self.multiplier = multiplier
        self.maximumDelay = maximumDelay
        self.jitter = jitter
        self.maxAttempts = maxAttempts
    }

    /// Checks every value (properties set after ``init(initialDelay:multiplier:maximumDelay:jitter:maxAttempts:)``
    /// bypass its checks).
    ///
    /// - Throws: ``RecorderParameterError`` naming the first value out of its range.
    public func validate() throws(RecorderParameterError) {
        try RecorderParameterError.check(initialDelay, "initialDelay", in: Self.delayRange, unit: "seconds")
        try RecorderParameterError.check(multiplier, "multiplier", in: Self.multiplierRange, unit: "a factor")
        try RecorderParameterError.check(maximumDelay, "maximumDelay", in: Self.delayRange, unit: "seconds")
        try RecorderParameterError.check(jitter, "jitter", in: Self.jitterRange, unit: "a fraction")
        if let maxAttempts {
            try RecorderParameterError.check(maxAttempts, "maxAttempts", in: Self.maxAttemptsRange, unit: "attempts")
        }
    }

    private enum CodingKeys: String, CodingKey { case initialDelay, multiplier, maximumDelay, jitter, maxAttempts }

    /// Decodes a policy and checks it as the initializer does.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            checkedInitialDelay: try container.decode(Double.self, forKey: .initialDelay),
            multiplier: try container.decode(Double.self, forKey: .multiplier),
            maximumDelay: try container.decode(Double.self, forKey: .maximumDelay),
            jitter: try container.decode(Double.self, forKey: .jitter),
            maxAttempts: try container.decodeIfPresent(Int.self, forKey: .maxAttempts)
        )
        do {
            try validate()
        } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: error.description, underlyingError: error)
            )
        }
    }

    /// Seconds to wait before the next attempt after `failures` attempts in a row that did not open (0 after a
    /// stream that ended: reconnect at once).
    public func delay(afterFailures failures: Int, random: Double = Double.random(in: -1...1)) -> Double {
        guard failures > 0 else { return 0 }
        let exponential = initialDelay * pow(multiplier, Double(failures - 1))
        let capped = min(maximumDelay, exponential)
        let jittered = max(0, capped * (1 + jitter * max(-1, min(1, random))))
        // A policy changed after its checks (or a NaN `random`) never yields a wait the clock cannot hold.
        return jittered.isFinite ? min(jittered, 2 * Self.delayRange.upperBound) : 0
    }

    /// Whether the recorder may try again after `failures` attempts in a row that did not open.
    public func allowsAttempt(afterFailures failures: Int) -> Bool {
        maxAttempts.map { failures < $0 } ?? true
    }
}
