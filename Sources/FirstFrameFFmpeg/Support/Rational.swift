import CFFmpeg

/// A time base or a rate, as FFmpeg's `AVRational`: `numerator / denominator`.
public struct Rational: Sendable, Hashable, Codable, CustomStringConvertible {
    public var numerator: Int32
    public var denominator: Int32

    public init(_ numerator: Int32, _ denominator: Int32) {
        self.numerator = numerator
        self.denominator = denominator
    }

    package init(_ value: AVRational) {
        self.init(value.num, value.den)
    }

    package var avRational: AVRational { AVRational(num: numerator, den: denominator) }

    /// The value as a `Double`; 0 when the denominator is 0 (FFmpeg's "unknown").
    public var doubleValue: Double { denominator == 0 ? 0 : Double(numerator) / Double(denominator) }

    /// `ticks` of this time base in seconds.
    public func seconds(_ ticks: Int64) -> Double { Double(ticks) * doubleValue }

    /// `ticks` of this time base in `other` (`av_rescale_q`, rounding to nearest).
    public func rescale(_ ticks: Int64, to other: Rational) -> Int64 {
        av_rescale_q(ticks, avRational, other.avRational)
    }

    public var description: String { "\(numerator)/\(denominator)" }
}
