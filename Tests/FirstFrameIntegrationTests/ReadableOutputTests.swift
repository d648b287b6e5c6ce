import FirstFrame
import FirstFrameFFmpeg
import FirstFrameNetwork
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

extension OriginTests {
    /// What `print` shows of events and the report's small values: sentences a person reads, not Swift's
    /// reflection (`FirstFrameNetwork.DomainLookup.Source.literal`, `Optional(18080)`).
    @Suite struct ReadableOutput {
        init() { FFmpegLog.level = .quiet }

        static func stream(_ json: String) throws -> FirstFrameReport.Stream {
            try JSONDecoder().decode(FirstFrameReport.Stream.self, from: Data(json.utf8))
        }

        @Test func eventsReadAsSentences() throws {
            let video = try Self.stream(#"{"index":0,"type":"video","codec":"h264","width":640,"height":360}"#)
            let audio = try Self.stream(#"{"index":1,"type":"audio","codec":"aac","sampleRate":48000}"#)
            let cases: [(OpenEvent, String)] = [
                (
                    OpenEvent(ms: 0.04, hop: 0, kind: .lookupStarted(host: "127.0.0.1", port: 18080)),
                    "      0.0 ms hop 0 lookup started: 127.0.0.1 port 18080"
                ),
                (
                    OpenEvent(
                        ms: 1.25,
                        hop: 0,
                        kind: .lookupFinished(host: "127.0.0.1", source: .literal, answers: ["127.0.0.1"], error: nil)
                    ),
                    "      1.2 ms hop 0 lookup finished: 127.0.0.1 from literal → 127.0.0.1"
                ),
                (
                    OpenEvent(
                        ms: 2,
                        hop: 0,
                        kind: .connectFinished(
                            address: "127.0.0.1",
                            port: 9,
                            outcome: .failed,
                            error: "Connection refused"
                        )
                    ),
                    "      2.0 ms hop 0 connect to 127.0.0.1 port 9 failed: Connection refused"
                ),
                (
                    OpenEvent(ms: 3, hop: 0, kind: .tlsFinished(resumed: nil, error: nil)),
                    "      3.0 ms hop 0 TLS handshake finished"
                ),
                (
                    OpenEvent(
                        ms: 4,
                        hop: 0,
                        kind: .responseStarted(
                            status: 302,
                            statusLine: "HTTP/1.1 302 Found",
                            redirectTo: "http://b/x.flv"
                        )
                    ),
                    "      4.0 ms hop 0 response started: HTTP/1.1 302 Found → http://b/x.flv"
                ),
                (
                    OpenEvent(ms: 5, kind: .streamsKnown([video, audio])),
                    "      5.0 ms streams known: #0 video h264 640×360, #1 audio aac 48000 Hz"
                ),
                (
                    OpenEvent(ms: 6, kind: .firstKeyframe(readMs: 6, arrivedMs: nil)),
                    "      6.0 ms first keyframe read at 6.0 ms"
                ),
                (OpenEvent(ms: 7, kind: .firstPicture(width: 640, height: 360)), "      7.0 ms first picture 640×360"),
                (
                    OpenEvent(
                        ms: 8,
                        kind: .openFailed(.init(stage: .formatProbe, kind: .invalidData, message: "not FLV"))
                    ),
                    "      8.0 ms open failed: formatProbe/invalidData: not FLV"
                ),
                (
                    OpenEvent(ms: 0, kind: .reconnecting(attempt: 2, waitedMs: 500)),
                    "      0.0 ms reconnecting: attempt 2 after waiting 500.0 ms"
                ),
            ]
            for (event, expected) in cases { #expect("\(event)" == expected) }
            #expect(cases.map(\.0.kind.name).prefix(3) == ["lookupStarted", "lookupFinished", "connectFinished"])
            // Collections of the small values read the same way.
            #expect("\([Stage.dns, .decode])" == "[dns, decode]")
            #expect("\([DomainLookup.Source.cache, .literal])" == "[cache, literal]")
            #expect(
                "\(FirstFrameReport.Outcome.failed), \(ConnectAttempt.Outcome.abandoned), \(StreamInfo.Kind.video)"
                    == "failed, abandoned, video"
            )
        }

        /// `--help` of the commands with knobs puts their own options first and leaves the knob list to
        /// `firstframe help knobs`; every option that takes a value says its default (or is required).
        @Test(
            .enabled(
                if: CommandLineProcess.executable != nil,
                "the firstframe executable is not built next to the tests"
            )
        )
        func helpShowsTheCommandsOwnOptionsAndEveryDefault() async throws {
            for command in [["probe"], ["sweep"], ["record"]] {
                let help = try await CommandLineProcess.run(command + ["--help"], timeout: 20)
                #expect(help.status == 0)
                #expect(!help.stdout.contains("fpsprobesize: an integer"), "\(command) --help lists the knobs")
                #expect(help.stdout.contains("firstframe help knobs"), "\(command) --help says where the knobs are")
                #expect(help.stdout.split(separator: "\n").count < 60, "\(command) --help: \(help.stdout)")
            }
            let knobs = try await CommandLineProcess.run(["help", "knobs"], timeout: 20)
            for name in TuningKnobs.names { #expect(knobs.stdout.contains("\n\(name): "), "help knobs lacks \(name)") }

            let required: Set<String> = ["sweep --set", "record --out"]
            for command in [
                ["probe"], ["sweep"], ["record"], ["exporter"], ["serve"], ["demo"], ["load"], ["bench", "open"],
                ["bench", "hooks"], ["bench", "rtmp"], ["bench", "concurrent"], ["bench", "record"],
            ] {
                let help = try await CommandLineProcess.run(command + ["--help"], timeout: 20).stdout
                let options = help.components(separatedBy: "OPTIONS:").last ?? ""
                // One block per option: from a line starting "  -" to the next.
                var blocks: [String] = []
                for line in options.split(separator: "\n") {
                    if line.hasPrefix("  -") {
                        blocks.append(String(line))
                    } else if !blocks.isEmpty {
                        blocks[blocks.count - 1] += " " + line
                    }
                }
                for block in blocks {
                    let words = block.split(separator: " ")
                    guard let name = words.first(where: { $0.hasPrefix("--") }),
                        words.contains(where: { $0.hasPrefix("<") }),
                        name != "--help"
                    else { continue }  // a flag
                    let label = command.joined(separator: " ") + " " + name
                    #expect(
                        block.contains("default") || required.contains(label),
                        "\(label) shows no default: \(block)"
                    )
                }
            }
        }

        /// A real open's events, printed: no reflection anywhere.
        @Test func aRealOpensEventsPrintCleanly() async throws {
            try await withOrigin { origin in
                let opening = StreamOpener(preset: .instant).openWithEvents(origin.url(.gop))
                var lines: [String] = []
                for await event in opening.events { lines.append("\(event)") }
                (try? await opening.stream)?.close()
                report("an open's events:\n" + lines.joined(separator: "\n"))
                #expect(lines.count >= 8)
                for line in lines {
                    #expect(
                        !line.contains("Optional(") && !line.contains("FirstFrame") && !line.contains("nil")
                            && !line.contains("Kind."),
                        "\(line)"
                    )
                }
                #expect(lines.contains { $0.contains("lookup finished: 127.0.0.1 from literal") })
                #expect(lines.contains { $0.hasSuffix("first picture 640×360") })
            }
        }
    }
}
