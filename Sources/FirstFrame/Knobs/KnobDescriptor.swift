import Foundation

/// One knob of ``TuningKnobs``: its name, where its value lives, how its text is parsed and printed, the values it
/// accepts, and a line of help. ``TuningKnobs/descriptors`` lists every knob, and ``TuningKnobs/names``,
/// ``TuningKnobs/set(_:_:)``, ``TuningKnobs/textValues``, ``TuningKnobs/validate()`` and the CLI's `--set` help
/// all read that one table.
///
/// The value's type is erased: a descriptor is built from a key path and a typed parse/format pair, and then works
/// on whole ``TuningKnobs`` values and text.
package struct KnobDescriptor: Sendable {
    /// The name ``TuningKnobs/set(_:_:)`` accepts (the property's name).
    package let name: String
    /// The values the knob accepts, as a phrase: it is the `expected` text of ``KnobError/invalid(knob:value:expected:)``
    /// and the range the CLI help prints, e.g. `an integer in 0...64`.
    package let rule: String
    /// One line saying what the knob changes, for help.
    package let doc: String
    /// Whether ``TuningKnobs/textValues`` leaves the knob out while it holds its default (an empty list or table).
    package let omittedAtDefault: Bool
    /// Whether the knob is also an `avformat_open_input` option of the same name (given to FFmpeg only when it
    /// differs from the default, so that stock settings pass nothing at all).
    package let isFormatOption: Bool

    private let assign: @Sendable (inout TuningKnobs, String) -> Bool
    private let render: @Sendable (TuningKnobs) -> String
    private let holdsDefault: @Sendable (TuningKnobs) -> Bool

    /// A knob stored at `keyPath`.
    ///
    /// - Parameters:
    ///   - name: The name ``TuningKnobs/set(_:_:)`` accepts.
    ///   - keyPath: Where the value lives in ``TuningKnobs``.
    ///   - rule: The values accepted, as a phrase (the `expected` text of a rejection, and the help's range).
    ///   - omittedAtDefault: Leave the knob out of ``TuningKnobs/textValues`` while it holds its default.
    ///   - isFormatOption: The knob is an `avformat_open_input` option of the same name.
    ///   - doc: One line of help.
    ///   - parse: The value the text stands for, nil when the text breaks `rule`.
    ///   - format: Text that `parse` turns back into the same value.
    package init<Value: Equatable & Sendable>(
        _ name: String,
        _ keyPath: WritableKeyPath<TuningKnobs, Value> & Sendable,
        rule: String,
        omittedAtDefault: Bool = false,
        isFormatOption: Bool = false,
        doc: String,
        parse: @escaping @Sendable (String) -> Value?,
        format: @escaping @Sendable (Value) -> String
    ) {
        self.name = name
        self.rule = rule
        self.doc = doc
        self.omittedAtDefault = omittedAtDefault
        self.isFormatOption = isFormatOption
        let defaultValue = TuningKnobs()[keyPath: keyPath]
        assign = { knobs, text in
            guard let value = parse(text) else { return false }
            knobs[keyPath: keyPath] = value
            return true
        }
        render = { knobs in format(knobs[keyPath: keyPath]) }
        holdsDefault = { knobs in knobs[keyPath: keyPath] == defaultValue }
    }

    /// An integer knob: the text, trimmed of spaces, must be a whole number in `range`.
    package static func integer(
        _ name: String,
        _ keyPath: WritableKeyPath<TuningKnobs, Int> & Sendable,
        _ range: ClosedRange<Int>,
        isFormatOption: Bool = false,
        doc: String
    ) -> KnobDescriptor {
        KnobDescriptor(
            name,
            keyPath,
            rule: "an integer in \(range.lowerBound)...\(range.upperBound)",
            isFormatOption: isFormatOption,
            doc: doc,
            parse: { text in
                guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
                    return nil
                }
                return value
            },
            format: { String($0) }
        )
    }

    /// A switch: `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`, in any case; printed as `true` or `false`.
    package static func boolean(
        _ name: String,
        _ keyPath: WritableKeyPath<TuningKnobs, Bool> & Sendable,
        isFormatOption: Bool = false,
        doc: String
    ) -> KnobDescriptor {
        KnobDescriptor(
            name,
            keyPath,
            rule: "true or false",
            isFormatOption: isFormatOption,
            doc: doc,
            parse: { text in
                switch text.lowercased() {
                case "1", "true", "yes", "on": true
                case "0", "false", "no", "off": false
                default: nil
                }
            },
            format: { String($0) }
        )
    }

    /// Parses `text` and stores the value in `knobs`.
    ///
    /// - Throws: ``KnobError/invalid(knob:value:expected:)`` with ``rule`` as the expected form; `knobs` is then
    ///   unchanged.
    package func parse(_ text: String, into knobs: inout TuningKnobs) throws(KnobError) {
        guard assign(&knobs, text) else { throw .invalid(knob: name, value: text, expected: rule) }
    }

    /// The knob's value in `knobs` as text ``parse(_:into:)`` accepts.
    package func format(_ knobs: TuningKnobs) -> String { render(knobs) }

    /// Whether `knobs` holds this knob's default (the value in `TuningKnobs()`).
    package func isDefault(in knobs: TuningKnobs) -> Bool { holdsDefault(knobs) }
}
