import Foundation

/// A knob name or value that cannot be used.
public enum KnobError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknown(knob: String, known: [String])
    case invalid(knob: String, value: String, expected: String)
    case unknownPreset(String)

    public var description: String {
        switch self {
        case .unknown(let knob, let known): "unknown knob \"\(knob)\" (knobs: \(known.joined(separator: ", ")))"
        case .invalid(let knob, let value, let expected): "knob \(knob): \"\(value)\" is not \(expected)"
        case .unknownPreset(let name):
            "unknown preset \"\(name)\" (presets: \(Preset.allCases.map(\.rawValue).joined(separator: ", ")))"
        }
    }
}
