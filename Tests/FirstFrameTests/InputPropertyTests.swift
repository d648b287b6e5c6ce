import PropertyBased
import Testing

@testable import FirstFrame

/// Random knob strings and URLs thrown at parsing and validation: whatever the text, the answer is a value or a
/// typed error, never a trap, and every accepted value survives the arithmetic the opener does with it.
@Suite struct InputPropertyTests {
    /// Fragments that have broken parsers before: huge, tiny, non-finite, signed, empty, separators.
    static let numbers = [
        "0", "1", "-1", "1e30", "-1e30", "1e308", "inf", "-inf", "nan", "NaN", "0x10", "1.5", "",
        " 7", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "3600000",
        "3600000.1", "2147483648", "65536", "1e-300", "00012", "+5", "１２",
    ]
    static let separators = [",", ";", "=", ":", " ", "", "|", "\u{0}"]
    static let hosts = ["", "127.0.0.1", "::1", "[::1]", "localhost", "a..b", "-x", "é.example", "x y", "256.1.1.1"]
    static let schemes = [
        "http", "https", "rtmp", "rtmps", "hls+http", "crypto+http", "concat", "subfile", "data",
        "pipe", "file", "ftp", "tcp", "udp", "gopher", "foo", "", "HTTP", "http+https",
    ]

    static func pick<T>(_ table: [T], _ index: Int) -> T { table[index % table.count] }

    @Test func anyKnobTextIsAValueOrAKnobError() async {
        await propertyCheck(
            count: 3000,
            input: Gen.int(in: 0...1_000_000),
            Gen.int(in: 0...1_000_000),
            Gen.int(in: 0...1_000_000)
        ) { a, b, c in
            let name = Self.pick(TuningKnobs.names, a)
            let stage = Self.pick(Stage.allCases.map(\.rawValue) + ["bogus", ""], b)
            let texts = [
                Self.pick(Self.numbers, b),
                "\(stage)=\(Self.pick(Self.numbers, c))",
                "\(stage)=\(Self.pick(Self.numbers, c))\(Self.pick(Self.separators, a))\(Self.pick(Self.numbers, b))",
                "\(Self.pick(Self.hosts, b))=\(Self.pick(Self.hosts, c))",
                Self.pick(Self.schemes, b) + Self.pick(Self.separators, c) + Self.pick(Self.schemes, a),
            ]
            for text in texts {
                var knobs = TuningKnobs()
                do throws(KnobError) {
                    try knobs.set(name, text)
                    // Accepted: the whole set validates, and the deadlines convert to nanoseconds without trapping.
                    try knobs.validate()
                    for (_, ms) in knobs.stageDeadlines { _ = UInt64(ms * 1e6) }
                    _ = UInt64(knobs.totalDeadline * 1e9)
                    _ = UInt64(knobs.streamWaitMs) * 1_000_000
                } catch {
                    #expect(!"\(error)".isEmpty)
                }
            }
        }
    }

    @Test func anyURLIsAcceptedOrRefusedWithAKindBeforeAnyIO() async {
        await propertyCheck(
            count: 3000,
            input: Gen.int(in: 0...1_000_000),
            Gen.int(in: 0...1_000_000),
            Gen.int(in: 0...1_000_000)
        ) { a, b, c in
            let port = Self.pick(Self.numbers, c)
            let candidates = [
                "\(Self.pick(Self.schemes, a))://\(Self.pick(Self.hosts, b)):\(port)/x.flv",
                "\(Self.pick(Self.schemes, a)):\(Self.pick(Self.hosts, b))\(Self.pick(Self.separators, c))x",
                "\(Self.pick(Self.schemes, a))://u:p@\(Self.pick(Self.hosts, b))/"
                    + String(repeating: "a", count: (a % 3) * 2100),
            ]
            for url in candidates {
                do throws(PipelineFailure) {
                    let policy = try InputPolicy(url: url, knobs: TuningKnobs())
                    #expect(
                        TuningKnobs.defaultAllowedProtocols.contains(
                            policy.scheme.split(separator: "+").first.map(String.init) ?? ""
                        )
                    )
                    #expect(!policy.isLocal || policy.protocols.contains("file"))
                    #expect(
                        policy.isLocal || !policy.protocols.contains("file"),
                        "file is never allowed under a network URL"
                    )
                } catch {
                    #expect([.invalidURL, .protocolNotAllowed].contains(error.kind))
                    #expect([.dns, .formatProbe].contains(error.stage))
                    #expect(!error.message.contains("u:p@"), "userinfo is redacted")
                }
            }
        }
    }
}
