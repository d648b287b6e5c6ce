/// A ``Recorder`` or ``ReconnectPolicy`` parameter outside the values it accepts: not a finite number, or out of
/// its documented range. Thrown by their initializers instead of clamping the value or trapping on it later (a
/// `Double` too large for the clock's nanoseconds would stop the process).
///
/// ```swift
/// do {
///     _ = try ReconnectPolicy(initialDelay: .nan)
/// } catch {
///     print(error)   // initialDelay: nan is not seconds in 0…3600
/// }
/// ```
public struct RecorderParameterError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The parameter's name, as the initializer spells it (`segmentSeconds`, `initialDelay`, `maxAttempts`, …).
    public let parameter: String
    /// The value given, as text.
    public let value: String
    /// What the parameter accepts, in words (`seconds in 0…3600`).
    public let expected: String

    public init(parameter: String, value: String, expected: String) {
        self.parameter = parameter
        self.value = value
        self.expected = expected
    }

    public var description: String { "\(parameter): \(value) is not \(expected)" }

    /// Checks that `value` is a finite number inside `range` (NaN and the infinities never are).
    static func check(
        _ value: Double,
        _ parameter: String,
        in range: ClosedRange<Double>,
        unit: String
    ) throws(RecorderParameterError) {
        guard value.isFinite, range.contains(value) else {
            throw RecorderParameterError(
                parameter: parameter,
                value: "\(value)",
                expected: "\(unit) in \(Self.text(range))"
            )
        }
    }

    /// Checks that `value` is inside `range`.
    static func check(
        _ value: Int,
        _ parameter: String,
        in range: ClosedRange<Int>,
        unit: String
    ) throws(RecorderParameterError) {
        guard range.contains(value) else {
            throw RecorderParameterError(
                parameter: parameter,
                value: "\(value)",
                expected: "\(unit) in \(range.lowerBound)…\(range.upperBound)"
            )
        }
    }

    private static func text(_ range: ClosedRange<Double>) -> String {
        func number(_ value: Double) -> String { value == value.rounded() ? String(Int(value)) : String(value) }
        return "\(number(range.lowerBound))…\(number(range.upperBound))"
    }
}
