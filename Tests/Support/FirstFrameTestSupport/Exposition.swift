/// The Prometheus text format, parsed: every sample with its labels, and each family's type (what the exporter's
/// tests read its `/probe` and `/metrics` answers with).
package struct Exposition: Sendable {
    package struct Sample: Sendable {
        package var name: String
        package var labels: [String: String]
        package var value: Double
    }

    package struct Malformed: Error, CustomStringConvertible {
        package var description: String
    }

    package var samples: [Sample] = []
    package var types: [String: String] = [:]

    package init(_ text: String) throws {
        for line in text.split(separator: "\n") where !line.isEmpty {
            if line.hasPrefix("# TYPE ") {
                let fields = line.split(separator: " ")
                if fields.count == 4 { types[String(fields[2])] = String(fields[3]) }
                continue
            }
            if line.hasPrefix("#") { continue }
            samples.append(try Self.sample(line))
        }
    }

    private static func sample(_ line: Substring) throws -> Sample {
        var index = line.startIndex
        while index < line.endIndex, line[index] != "{", line[index] != " " { index = line.index(after: index) }
        let name = String(line[..<index])
        var labels: [String: String] = [:]
        if index < line.endIndex, line[index] == "{" {
            index = line.index(after: index)
            while index < line.endIndex, line[index] != "}" {
                guard let equals = line[index...].firstIndex(of: "="), line.index(after: equals) < line.endIndex,
                    line[line.index(after: equals)] == "\""
                else { throw Malformed(description: "labels in \(line)") }
                let key = String(line[index..<equals])
                var cursor = line.index(equals, offsetBy: 2)
                var value = ""
                while cursor < line.endIndex, line[cursor] != "\"" {
                    if line[cursor] == "\\", line.index(after: cursor) < line.endIndex {
                        cursor = line.index(after: cursor)
                        value.append(line[cursor] == "n" ? "\n" : line[cursor])
                    } else {
                        value.append(line[cursor])
                    }
                    cursor = line.index(after: cursor)
                }
                guard cursor < line.endIndex else {
                    throw Malformed(description: "unterminated label value in \(line)")
                }
                labels[key] = value
                index = line.index(after: cursor)
                if index < line.endIndex, line[index] == "," { index = line.index(after: index) }
            }
            guard index < line.endIndex else { throw Malformed(description: "unterminated labels in \(line)") }
            index = line.index(after: index)
        }
        let rest = line[index...].split(separator: " ")
        guard let text = rest.first, let value = Double(text) ?? (text == "+Inf" ? .infinity : nil) else {
            throw Malformed(description: "value in \(line)")
        }
        return Sample(name: name, labels: labels, value: value)
    }

    package func samples(of name: String) -> [Sample] { samples.filter { $0.name == name } }

    /// The value of the first sample of `name` whose labels include `labels`.
    package func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }?
            .value
    }
}
