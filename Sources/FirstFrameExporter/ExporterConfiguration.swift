import FirstFrame
import Foundation

/// `firstframe exporter --config FILE`: the targets the exporter may probe, and those it probes on its own.
///
/// ```json
/// {"targets": [{"name": "room1", "url": "http://edge.example.com/live/room1.flv", "preset": "instant",
///               "interval": 15, "timeout": 5, "labels": {"region": "eu"}, "set": {"decoderThreads": "2"}}],
///  "concurrency": 4, "jitter": 0.1}
/// ```
///
/// A target without `interval` (or with 0) is only probed when `/probe?target=NAME` asks for it. Unknown keys are
/// errors (a misspelt `intervall` would otherwise silently turn scheduling off).
public struct ExporterConfiguration: Sendable, Equatable {
    public struct Target: Sendable, Equatable {
        /// What `/probe?target=` and the `target` label call it.
        public var name: String
        public var url: String
        public var preset: Preset
        /// Seconds between two scheduled probes; nil: probed on request only.
        public var interval: Double?
        /// Seconds before an open fails (the `totalDeadline` knob); nil: the preset's, capped at `interval`.
        public var timeout: Double?
        /// Extra labels on the target's `firstframe_target_*` series, sorted by name.
        public var labels: [(String, String)]
        /// Knob changes on top of the preset, applied in name order.
        public var settings: [(String, String)]

        public init(
            name: String,
            url: String,
            preset: Preset = .instant,
            interval: Double? = nil,
            timeout: Double? = nil,
            labels: [(String, String)] = [],
            settings: [(String, String)] = []
        ) {
            self.name = name
            self.url = url
            self.preset = preset
            self.interval = interval
            self.timeout = timeout
            self.labels = labels
            self.settings = settings
        }

        public static func == (lhs: Target, rhs: Target) -> Bool {
            lhs.name == rhs.name && lhs.url == rhs.url && lhs.preset == rhs.preset && lhs.interval == rhs.interval
                && lhs.timeout == rhs.timeout && lhs.labels.elementsEqual(rhs.labels, by: ==)
                && lhs.settings.elementsEqual(rhs.settings, by: ==)
        }

        /// The preset's knobs with the target's changes and `timeout` (when given) applied.
        public func knobs(timeout override: Double? = nil) throws(ConfigurationError) -> TuningKnobs {
            var knobs = preset.knobs
            do {
                for (name, value) in settings { try knobs.set(name, value) }
                if let seconds = override ?? timeout ?? interval.map({ min($0, knobs.totalDeadline) }) {
                    try knobs.set("totalDeadline", String(seconds))
                }
            } catch {
                throw ConfigurationError("target \(name): \(error)")
            }
            return knobs
        }
    }

    public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    public var targets: [Target] = []
    /// Scheduled opens running at once, at most.
    public var concurrency = 4
    /// Each interval is stretched or shrunk by up to this fraction at random, so targets drift apart.
    public var jitter = 0.1

    /// No targets: `/probe` then opens only what `allowAnyTarget` lets it.
    public init() {}

    /// Label names the exporter sets itself.
    public static let reservedLabels: Set<String> = [
        "target", MetricNames.Label.preset, "stage", "cause", "le", "trigger", "job", "instance",
    ]

    /// The configured target `name`, or the one whose URL is exactly `name`.
    public func target(named nameOrURL: String) -> Target? {
        targets.first { $0.name == nameOrURL } ?? targets.first { $0.url == nameOrURL }
    }

    // MARK: Reading

    /// Reads and checks the file at `path`.
    public static func load(from path: String) throws(ConfigurationError) -> ExporterConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationError("cannot read \(path): \(error.localizedDescription)")
        }
        do {
            return try parse(data)
        } catch {
            throw ConfigurationError("\(path): \(error.description)")
        }
    }

    /// Checks `data`, the configuration's JSON.
    public static func parse(_ data: Data) throws(ConfigurationError) -> ExporterConfiguration {
        do {
            return try JSONDecoder().decode(Document.self, from: data).configuration
        } catch let error as ConfigurationError {
            throw error
        } catch let DecodingError.dataCorrupted(context) {
            throw ConfigurationError("not JSON: \(context.underlyingError.map { "\($0)" } ?? context.debugDescription)")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw ConfigurationError("\(path(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.keyNotFound(key, context) {
            throw ConfigurationError("\(path(context.codingPath + [key])) is missing")
        } catch {
            throw ConfigurationError("\(error)")
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
    }

    /// Any key, to list the keys an object has.
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private static func checkKeys(_ decoder: any Decoder, allowed: Set<String>, in place: String) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = container.allKeys.map(\.stringValue).sorted().first(where: { !allowed.contains($0) }) {
            throw ConfigurationError(
                "\(place): unknown key \"\(unknown)\" (known: \(allowed.sorted().joined(separator: ", ")))"
            )
        }
    }

    private struct Document: Decodable {
        var configuration = ExporterConfiguration()

        private enum CodingKeys: String, CodingKey { case targets, concurrency, jitter }

        init(from decoder: any Decoder) throws {
            try checkKeys(decoder, allowed: ["targets", "concurrency", "jitter"], in: "the configuration")
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if let number = try container.decodeIfPresent(Int.self, forKey: .concurrency) {
                guard (1...256).contains(number) else {
                    throw ConfigurationError("concurrency must be an integer in 1…256")
                }
                configuration.concurrency = number
            }
            if let number = try container.decodeIfPresent(Double.self, forKey: .jitter) {
                guard (0...0.5).contains(number) else {
                    throw ConfigurationError("jitter must be a number in 0…0.5 (a fraction of the interval)")
                }
                configuration.jitter = number
            }
            let entries = try container.decodeIfPresent([TargetEntry].self, forKey: .targets) ?? []
            var names = Set<String>()
            for entry in entries {
                guard names.insert(entry.target.name).inserted else {
                    throw ConfigurationError("target name \"\(entry.target.name)\" is used twice")
                }
                configuration.targets.append(entry.target)
            }
        }
    }

    /// A knob value as JSON has it: a string, a number or a boolean, handed to `TuningKnobs.set` as text.
    private struct KnobText: Decodable {
        var text: String

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let string = try? container.decode(String.self) {
                text = string
            } else if let bool = try? container.decode(Bool.self) {
                text = bool ? "true" : "false"
            } else if let int = try? container.decode(Int.self) {
                text = String(int)
            } else {
                text = String(try container.decode(Double.self))
            }
        }
    }

    private struct TargetEntry: Decodable {
        var target: Target

        private enum CodingKeys: String, CodingKey { case name, url, preset, interval, timeout, labels, set }

        init(from decoder: any Decoder) throws {
            let place = "targets[\(decoder.codingPath.last?.intValue ?? 0)]"
            try checkKeys(
                decoder,
                allowed: Set(["name", "url", "preset", "interval", "timeout", "labels", "set"]),
                in: place
            )
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let name = try container.decode(String.self, forKey: .name)
            guard isValidName(name) else {
                throw ConfigurationError(
                    "\(place).name \"\(name)\" must be 1…100 characters from A–Z a–z 0–9 - _ . ~, not starting with _"
                )
            }
            let where_ = "target \(name)"
            let url = try container.decode(String.self, forKey: .url)
            guard !url.isEmpty, !url.contains(where: \.isNewline) else {
                throw ConfigurationError("\(where_): url must not be empty")
            }
            var preset = Preset.instant
            if let text = try container.decodeIfPresent(String.self, forKey: .preset) {
                do { preset = try Preset(named: text) } catch { throw ConfigurationError("\(where_): \(error)") }
            }
            var interval: Double?
            if let seconds = try container.decodeIfPresent(Double.self, forKey: .interval) {
                guard seconds == 0 || (1...86_400).contains(seconds) else {
                    throw ConfigurationError(
                        "\(where_): interval must be seconds in 1…86400 (0 or absent: on request only)"
                    )
                }
                interval = seconds == 0 ? nil : seconds
            }
            let timeout = try container.decodeIfPresent(Double.self, forKey: .timeout)
            if let timeout, !(timeout > 0 && timeout <= 3600) {
                throw ConfigurationError("\(where_): timeout must be seconds in (0, 3600]")
            }
            var labels: [(String, String)] = []
            for (key, value) in try container.decodeIfPresent([String: String].self, forKey: .labels)?.sorted(by: {
                $0.key < $1.key
            }) ?? [] {
                guard isValidLabelName(key), !reservedLabels.contains(key) else {
                    throw ConfigurationError(
                        "\(where_): label name \"\(key)\" is not a Prometheus label name, or is one the exporter "
                            + "sets (\(reservedLabels.sorted().joined(separator: ", ")))"
                    )
                }
                labels.append((key, value))
            }
            let settings =
                try container.decodeIfPresent([String: KnobText].self, forKey: .set)?
                .sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value.text) } ?? []
            target = Target(
                name: name,
                url: url,
                preset: preset,
                interval: interval,
                timeout: timeout,
                labels: labels,
                settings: settings
            )
            _ = try target.knobs()  // every knob change is checked now, not at the first probe
        }
    }

    // MARK: Checks

    /// Names: what the origin accepts as channel names, minus a leading `_` (the exporter's own `_adhoc`).
    package static func isValidName(_ name: String) -> Bool {
        guard (1...100).contains(name.count), !name.hasPrefix("_") else { return false }
        return name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "-_.~".unicodeScalars.contains(scalar))
        }
    }

    package static func isValidLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !name.hasPrefix("__") else { return false }
        func letter(_ scalar: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || scalar == "_"
        }
        return letter(first) && name.unicodeScalars.allSatisfy { letter($0) || ("0"..."9").contains($0) }
    }
}
