import FirstFrame
import FirstFrameCore
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

extension OriginTests {
    /// A password planted in every URL the CLI is given — the exporter's configuration, `record`'s and `probe`'s
    /// arguments — appears on no page, in no output, log, file or label: everything that comes out is searched
    /// for it, with FFmpeg's lines at their most talkative.
    @Suite(.serialized) struct SecretPlant {
        static let plant = "s3cr3t-PLANT"

        /// The origin's URL of `channel` with `user:s3cr3t-PLANT@` in it.
        static func planted(_ origin: LiveOrigin, _ channel: String) -> String {
            origin.url(.gop, channel: channel).replacingOccurrences(of: "http://", with: "http://user:\(plant)@")
        }

        @Test(
            .enabled(
                if: CommandLineProcess.executable != nil,
                "the firstframe executable is not built next to the tests"
            )
        )
        func theExportersPagesAndOutputCarryNoPassword() async throws {
            try await withOrigin { origin in
                try await origin.prepareChannels(["room1", "room2"])
                let config = """
                    {"targets": [{"name": "room1", "url": "\(Self.planted(origin, "room1"))", "interval": 1},
                                 {"name": "room2", "url": "\(Self.planted(origin, "room2"))", "set": {"decoderThreads": 1}}]}
                    """
                let exporter = try ExporterProcess(config: config)
                defer { exporter.stop() }
                // A scheduled probe and an asked-for one have run, so every page has something to show.
                _ = try await exporter.waitForMetrics("a scheduled probe of room1") {
                    ($0.value("firstframe_exporter_probes_total", ["target": "room1", "trigger": "schedule"]) ?? 0) >= 1
                }
                var pages: [String: String] = [:]
                for path in [
                    "/", "/metrics", "/reports", "/reports?target=room2", "/probe?target=room2", "/-/healthy",
                    "/nothing",
                    "/probe?target=" + Self.encoded(Self.planted(origin, "room3")),
                ] {
                    let answer = try await exporter.get(path)
                    pages[path] = answer.body
                }
                #expect(
                    pages["/"]?.contains("http://***@127.0.0.1:\(origin.port)/gop/room1.flv") == true,
                    "\(pages["/"] ?? "")"
                )
                #expect(pages["/reports"]?.contains("room1") == true)
                for (path, body) in pages {
                    #expect(!body.contains(Self.plant), "\(path) shows the password: \(body.prefix(2000))")
                }
                #expect(
                    !exporter.process.printed.contains(Self.plant),
                    "the exporter's output: \(exporter.process.printed)"
                )
            }
        }

        @Test(
            .enabled(
                if: CommandLineProcess.executable != nil,
                "the firstframe executable is not built next to the tests"
            )
        )
        func recordAndProbeCarryNoPassword() async throws {
            let directory = try CommandLineProcess.scratchDirectory("plant")
            defer { try? FileManager.default.removeItem(at: directory) }
            try await withOrigin { origin in
                try await origin.prepareChannels(["room"])
                let url = Self.planted(origin, "room")
                // FFmpeg's every line (it names the URLs it opens), and the CLI's.
                let talkative = ["FIRSTFRAME_FFMPEG_LOG": "trace"]

                let record = try await CommandLineProcess.run(
                    ["record", url, "--out", directory.path, "--duration", "2", "--status-interval", "0.5"],
                    environment: talkative,
                    timeout: 30
                )
                #expect(record.status == 0, "\(record.transcript.prefix(3000))")
                #expect(record.stderr.contains("Opening 'http://***@127.0.0.1"), "FFmpeg named the URL it opened")
                #expect(!record.stdout.contains(Self.plant) && !record.stderr.contains(Self.plant), "record's output")
                let log = try String(
                    contentsOf: directory.appendingPathComponent("room.ts.session.jsonl"),
                    encoding: .utf8
                )
                #expect(log.contains("\"summary\"") && log.contains("***@"))
                #expect(!log.contains(Self.plant), "the session log")

                let page = directory.appendingPathComponent("probe.html")
                let probe = try await CommandLineProcess.run(
                    ["probe", url, "--json", "--html", page.path],
                    environment: talkative,
                    timeout: 30
                )
                #expect(probe.status == 0, "\(probe.transcript.prefix(3000))")
                #expect(!probe.stdout.contains(Self.plant) && !probe.stderr.contains(Self.plant), "probe's output")
                #expect(!(try String(contentsOf: page, encoding: .utf8)).contains(Self.plant), "probe's page")

                // Every file the runs left, by name and content.
                for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
                    #expect(!name.contains(Self.plant))
                    let data = try Data(contentsOf: directory.appendingPathComponent(name))
                    #expect(data.range(of: Data(Self.plant.utf8)) == nil, "\(name) holds the password")
                }
            }
        }

        /// What the router does to each of FFmpeg's lines: every URL's userinfo goes, the rest stays.
        @Test func everyURLInALineLosesItsUserinfo() {
            #expect(
                URLRedaction.redactingUserinfo(in: "Opening 'http://u:p@h:80/a@b.flv?x=y@z' for reading")
                    == "Opening 'http://***@h:80/a@b.flv?x=y@z' for reading"
            )
            #expect(
                URLRedaction.redactingUserinfo(in: "a rtmp://u:p:q@h/app and https://k@h2#f, then ftp://h/x")
                    == "a rtmp://***@h/app and https://***@h2#f, then ftp://h/x"
            )
            #expect(URLRedaction.redactingUserinfo(in: "no URL here: user@host") == "no URL here: user@host")
        }

        static func encoded(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
        }
    }
}
