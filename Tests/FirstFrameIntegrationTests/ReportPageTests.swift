import FirstFrame
import FirstFrameOrigin
import FirstFrameRendering
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

#if canImport(FoundationXML)
import FoundationXML
import FirstFrameFFmpeg
#endif

/// The HTML report page: built from real opens against the origin, it shows every open, every cause in its
/// legend, the advice, escapes what the reports carry, fetches nothing — and a real browser draws it.
extension OriginTests {
    @Suite struct ReportPages {
        init() { FFmpegLog.level = .quiet }

        /// A path no HTML page should pass through raw: a script element and both kinds of quote.
        static let hostilePath = "/gop/<script>alert(\"x\")</script>'.flv"

        /// The page of real opens, built once for the suite's tests: `gop` and `live` joins with the `instant`
        /// and `ffmpeg` presets, then two failures: a refused connect and a 404 on the hostile path.
        static let realOpens = Task<ReportPage, any Error> {
            FFmpegLog.level = .quiet
            return try await withOrigin { origin in
                // A channel's first viewer waits for the origin to start encoding it; the page is about joins.
                _ = await StreamOpener(preset: .instant).report(opening: origin.url(host: "127.0.0.1", .gop))
                var sections: [ReportPage.Section] = []
                for preset in [Preset.instant, .ffmpeg] {
                    var reports: [FirstFrameReport] = []
                    for mode in [JoinMode.gop, .live] {
                        reports.append(
                            await StreamOpener(preset: preset).report(opening: origin.url(host: "127.0.0.1", mode))
                        )
                    }
                    sections.append(.init(label: "\(preset.rawValue): gop and live joins", reports: reports))
                }
                let closed = try ClosedPort()
                defer { closed.close() }
                let refused = await StreamOpener(preset: .instant).report(
                    opening: "http://127.0.0.1:\(closed.port)/gop/stream.flv"
                )
                let hostile = await StreamOpener(preset: .instant).report(
                    opening: "http://127.0.0.1:\(origin.port)\(hostilePath)"
                )
                sections.append(.init(label: "failures: a refused port, a <script> path", reports: [refused, hostile]))
                return ReportPage(title: "origin opens <instant & ffmpeg>", sections: sections)
            }
        }

        @Test func pageShowsEveryOpenItsCausesAndAdviceEscapedAndFetchesNothing() async throws {
            let page = try await Self.realOpens.value
            let reports = page.sections.flatMap(\.reports)
            let html = page.html()
            try Self.expectSelfContained(html)

            // One waterfall per open, each in its own <details>, in order.
            #expect(Self.count("<svg class=\"waterfall\"", in: html) == reports.count)
            let opens: [String] = Array(html.components(separatedBy: "<details class=\"open").dropFirst())
            try #require(opens.count == reports.count)
            for (report, open) in zip(reports, opens) {
                #expect(open.contains("<svg class=\"waterfall\""))
                // Every cause the band shows is in the legend under it.
                for cause in Set<Cause>(report.causes?.spans.map(\.cause) ?? []) {
                    #expect(
                        open.contains("<li data-cause=\"\(cause.rawValue)\">"),
                        "\(cause) missing from the legend of \(report.url)"
                    )
                }
                for advice in report.advice {
                    #expect(open.contains(ReportPage.escape(advice.message)), "advice missing: \(advice.message)")
                    for knob in advice.knobs { #expect(open.contains("<code>\(ReportPage.escape(knob))</code>")) }
                }
                if let error = report.error {
                    #expect(
                        open.contains("Failed in \(error.stage.rawValue)")
                            && open.contains(ReportPage.escape(error.message))
                    )
                }
            }
            let ok = reports.filter { $0.outcome == .ok }
            #expect(
                ok.count == 4,
                "the origin's four opens reach a picture: \(reports.map { $0.error?.message ?? "ok" })"
            )
            #expect(
                reports.contains { !$0.advice.isEmpty },
                "a live join, or stock FFmpeg's frame-rate probe, gives advice"
            )

            // The failures: a refused connect, drawn in red with its error, and the hostile path's 404.
            let failed = reports.filter { $0.outcome == .failed }
            #expect(failed.map { $0.error?.kind } == [.connect, .http])
            #expect(html.contains("failed after") && html.contains("#C62828"))

            // Hostile strings come out escaped, never raw.
            #expect(!html.contains("<script"))
            #expect(!html.contains("alert(\"x\")"))
            #expect(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;.flv"))
            #expect(html.contains("origin opens &lt;instant &amp; ffmpeg&gt;"))

            // Percentiles: the page's numbers are the nearest-rank ones over the opens that reached a picture.
            let pictures = ok.compactMap(\.summary.firstVideoFrameMs).sorted()
            let p50 = ReportAggregate.Distribution.percentile(0.5, ofSorted: pictures)
            #expect(html.contains("<td>\(ReportPage.ms(p50))</td>"))
            #expect(html.contains("6 opens in 3 sections · 2 failed"))
            report(
                "report page: \(html.utf8.count) bytes for \(reports.count) opens; first pictures "
                    + ok.map { "\($0.preset ?? "?") \(ReportPage.ms($0.summary.firstVideoFrameMs ?? 0))" }.joined(
                        separator: ", "
                    )
            )
        }

        /// Reports carry whatever a server or a user typed: a host, a URL, an error, a stall's description.
        @Test func handBuiltRTMPReportShowsPhasesStallsAndEscapesEverything() throws {
            let report = try Self.handBuiltRTMPReport()
            let html = ReportPage(title: "hand-built", sections: [.init(label: "rtmp \"quoted\"", reports: [report])])
                .html()
            try Self.expectSelfContained(html)
            for phase in ["handshake", "connect", "createStream", "play"] {
                #expect(html.contains(">\(phase)<") || html.contains("\(phase) "))
            }
            #expect(html.contains("RTMP exchange") && html.contains("2 stalls 80.0 ms"))
            #expect(html.contains("stall 40.0 ms awaiting server, after sending connect &amp; &lt;b&gt;"))
            #expect(!html.contains("<b>") && !html.contains("<evil>") && html.contains("&lt;evil&gt;"))
            #expect(html.contains("Connection refused &lt;&amp;&gt;"))
            #expect(html.contains("rtmp &quot;quoted&quot;"))
            #expect(!html.contains("\u{1}"), "control characters are replaced")
            for cause in Cause.allCases { #expect(html.contains("<li data-cause=\"\(cause.rawValue)\">")) }

            // HLS hops carry their role, playlist and segment; TLS says whether it resumed.
            let hls = try ReportPage(
                title: "hls",
                sections: [.init(label: "hls", reports: [Self.handBuiltHLSReport()])]
            ).html()
            try Self.expectSelfContained(hls)
            for text in [
                ">master playlist<", ">media playlist<", ">segment<", "2 variants", "5 segments, 10.0 s, live",
                "segment #41, 2.0 s, 4.0 s from the live edge", "TLS 24.0 ms (full handshake)", "reused connection",
            ] {
                #expect(hls.contains(text), "\(text) missing")
            }
        }

        /// An open refused before any I/O has no hops, stages or causes: it still gets its error and an (empty)
        /// waterfall, and a page with no opens at all is still a page.
        @Test func anOpenWithNothingToDrawStillRendersItsError() async throws {
            let refused = await StreamOpener(preset: .instant).report(opening: "http://127.0.0.1:99999/<x>.flv")
            #expect(refused.error?.kind == .invalidURL && refused.hops.isEmpty)
            let html = ReportPage(title: "refused", sections: [.init(label: "one", reports: [refused])]).html()
            try Self.expectSelfContained(html)
            #expect(
                html.contains("Failed in \(refused.error!.stage.rawValue)") && html.contains("no media stage reached")
            )
            #expect(Self.count("<svg class=\"waterfall\"", in: html) == 1 && html.contains("&lt;x&gt;.flv"))
            let empty = ReportPage(title: "nothing", sections: []).html()
            try Self.expectSelfContained(empty)
            #expect(empty.contains("No opens."))
        }

        /// Headless Chromium draws the page: the screenshot is not blank, and the causes' colours are on it.
        @Test(
            .enabled(
                if: FileManager.default.isExecutableFile(atPath: Browser.chromium),
                "needs /usr/bin/chromium (Debian: chromium)"
            ),
            .enabled(
                if: FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg"),
                "needs /usr/bin/ffmpeg to read the screenshot"
            )
        )
        func chromiumDrawsTheWaterfallsInTheCauseColours() async throws {
            var page = try await Self.realOpens.value
            page.sections.append(
                .init(
                    label: "hand-built RTMP and HLS reports (examples, not measurements)",
                    reports: [try Self.handBuiltRTMPReport(), try Self.handBuiltHLSReport()]
                )
            )
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "firstframe-page-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let file = directory.appendingPathComponent("page.html")
            try page.write(to: file)
            let screenshot = directory.appendingPathComponent("page.png")
            let (width, height) = (1280, 2000)
            try await Browser.screenshot(
                of: file,
                to: screenshot,
                width: width,
                height: height,
                profile: directory.appendingPathComponent("profile")
            )

            let pixels = try Browser.rgb(of: screenshot)
            try #require(pixels.count == width * height * 3, "ffmpeg read \(pixels.count) bytes")
            var nonWhite = 0
            var counts = Dictionary(uniqueKeysWithValues: Cause.allCases.map { ($0, 0) })
            let palette = Cause.allCases.map { cause in (cause, Browser.components(ReportPage.color(of: cause))) }
            pixels.withUnsafeBufferPointer { bytes in
                for offset in stride(from: 0, to: bytes.count, by: 3) {
                    let (r, g, b) = (Int(bytes[offset]), Int(bytes[offset + 1]), Int(bytes[offset + 2]))
                    if r < 235 || g < 235 || b < 235 { nonWhite += 1 }
                    for (cause, colour) in palette
                    where abs(r - colour.0) <= 6 && abs(g - colour.1) <= 6 && abs(b - colour.2) <= 6 {
                        counts[cause, default: 0] += 1
                    }
                }
            }
            let fraction = Double(nonWhite) / Double(width * height)
            let seen = counts.filter { $0.value >= 60 }.keys.map(\.rawValue).sorted()
            report(
                String(format: "screenshot: %.1f%% non-white; cause colours seen (pixels): ", fraction * 100)
                    + counts.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }
                    .joined(separator: ", ")
            )
            #expect(fraction > 0.04, "the screenshot is (nearly) blank")
            #expect(seen.count >= 4, "only \(seen) of the cause colours are on the screenshot")
            // Legend swatches are 12 × 12; a causes band is hundreds of pixels wide: the waterfalls were drawn.
            #expect(counts.values.max() ?? 0 >= 3000, "no causes band on the screenshot")

            // For a person to look at.
            for (source, target) in [
                (screenshot, "/tmp/firstframe-report-page.png"), (file, "/tmp/firstframe-report-page.html"),
            ] {
                try? FileManager.default.removeItem(atPath: target)
                try FileManager.default.copyItem(at: source, to: URL(fileURLWithPath: target))
            }
        }

        /// An HLS open over HTTPS: master playlist, media playlist and a segment on one kept-alive connection.
        static func handBuiltHLSReport() throws -> FirstFrameReport {
            var report = FirstFrameReport(
                url: "https://cdn.test/live/master.m3u8",
                preset: "instant",
                knobs: Preset.instant.knobs
            )
            let hops = """
                [{"url": "https://cdn.test/live/master.m3u8", "host": "cdn.test", "role": "masterPlaylist", "reusedConnection": false,
                  "dns": {"host": "cdn.test", "startMs": 0.2, "endMs": 0.3, "source": "cache", "answers": ["127.0.0.1"]},
                  "connects": [{"address": "127.0.0.1", "port": 443, "startMs": 0.4, "endMs": 9, "outcome": "connected"}],
                  "tls": {"startMs": 9, "endMs": 33}, "tlsResumed": false, "requestStartMs": 33.2, "responseStartMs": 52, "status": 200,
                  "playlist": {"variants": [{"bandwidth": 800000, "uri": "low.m3u8", "playlistHop": 1}, {"bandwidth": 2400000, "uri": "high.m3u8"}],
                               "segmentCount": 0, "durationSeconds": 0, "isLive": false, "isComplete": true}},
                 {"url": "https://cdn.test/live/low.m3u8", "host": "cdn.test", "role": "mediaPlaylist", "reusedConnection": true, "connects": [],
                  "requestStartMs": 54, "responseStartMs": 71, "status": 200,
                  "playlist": {"variants": [], "targetDurationSeconds": 2, "segmentCount": 5, "durationSeconds": 10, "isLive": true, "isComplete": true}},
                 {"url": "https://cdn.test/live/low41.ts", "host": "cdn.test", "role": "segment", "reusedConnection": true, "connects": [],
                  "requestStartMs": 73, "responseStartMs": 98, "status": 200,
                  "segment": {"sequence": 41, "durationSeconds": 2, "indexFromEnd": -2, "secondsFromLiveEdge": 4}}]
                """
            report.hops = try JSONDecoder().decode([FirstFrameReport.Hop].self, from: Data(hops.utf8))
            var cursor = 0.0
            for (stage, duration) in [
                (Stage.dns, 0.3), (.tcpConnect, 8.7), (.tls, 24), (.httpResponse, 19), (.formatProbe, 90),
                (.streamInfo, 30), (.buffering, 2), (.decode, 6),
            ] {
                report.stages.append(.init(name: stage, startMs: cursor, endMs: cursor + duration))
                report.summary[stage] = duration
                cursor += duration
            }
            report.causes = .init(
                spans: [
                    .init(cause: .networkSetup, startMs: 0, endMs: 33, hop: 0),
                    .init(cause: .serverResponse, startMs: 33, endMs: 98, hop: 0),
                    .init(cause: .keyframeTransfer, startMs: 98, endMs: 150),
                    .init(cause: .clientWait, startMs: 150, endMs: 174),
                    .init(cause: .decode, startMs: 174, endMs: cursor),
                ],
                keyframeArrival: .demuxer,
                firstPictureMs: cursor
            )
            report.summary.firstVideoFrameMs = cursor
            report.milestones.firstByteMs = 98
            report.milestones.firstKeyframeMs = 150
            report.milestones.firstVideoFrameMs = cursor
            report.outcome = .ok
            report.advice = AdviceRules.advice(for: report)
            return report
        }

        // MARK: Helpers

        /// Well-formed (the page is polyglot markup: any XML parser reads it), and nothing that would fetch:
        /// no script, stylesheet link, import or `url(…)`, and no attribute naming anything but a fragment. URLs
        /// appear only as text (the reports' own, escaped).
        static func expectSelfContained(_ html: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let reader = MarkupReader()
            let parser = XMLParser(data: Data(html.utf8))
            parser.delegate = reader
            #expect(
                parser.parse(),
                "not well-formed: \(parser.parserError.map { "\($0)" } ?? "?") at line \(parser.lineNumber)",
                sourceLocation: sourceLocation
            )
            #expect(
                reader.elements.isDisjoint(with: [
                    "script", "link", "img", "iframe", "object", "embed", "image", "use", "foreignObject",
                ]),
                "elements: \(reader.elements.sorted())",
                sourceLocation: sourceLocation
            )
            for (element, name, value) in reader.attributes {
                #expect(
                    !value.contains("://") && !value.lowercased().contains("url("),
                    "\(element) \(name)=\"\(value)\"",
                    sourceLocation: sourceLocation
                )
                if name == "href" || name == "src" || name == "xlink:href" {
                    #expect(
                        value.hasPrefix("#"),
                        "\(element) \(name)=\"\(value)\" is not a fragment",
                        sourceLocation: sourceLocation
                    )
                }
            }
            let css = reader.styleText.lowercased()
            #expect(
                !css.contains("@import") && !css.contains("url(") && !css.contains("://"),
                sourceLocation: sourceLocation
            )
            #expect(!html.lowercased().contains("url("), sourceLocation: sourceLocation)
            #expect(
                html.hasPrefix("<!DOCTYPE html>") && html.contains("<meta name=\"viewport\""),
                sourceLocation: sourceLocation
            )
            // Each waterfall scales with the page: a viewBox, and the style sheet's width 100%.
            #expect(
                count("<svg class=\"waterfall\" viewBox=\"0 0 960 ", in: html) == count("<svg", in: html),
                sourceLocation: sourceLocation
            )
            #expect(
                reader.styleText.contains("svg.waterfall { display: block; width: 100%;"),
                sourceLocation: sourceLocation
            )
        }

        /// Every element name, every attribute, and the text of `<style>`.
        final class MarkupReader: NSObject, XMLParserDelegate {
            var elements: Set<String> = []
            var attributes: [(String, String, String)] = []
            var styleText = ""
            private var inStyle = false

            func parser(
                _ parser: XMLParser,
                didStartElement name: String,
                namespaceURI: String?,
                qualifiedName: String?,
                attributes attributeDict: [String: String] = [:]
            ) {
                elements.insert(name)
                attributes += attributeDict.map { (name, $0.key, $0.value) }
                inStyle = name == "style"
            }

            func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?)
            {
                if name == "style" { inStyle = false }
            }

            func parser(_ parser: XMLParser, foundCharacters string: String) {
                if inStyle { styleText += string }
            }
        }

        static func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

        /// An RTMP open as the chunk-stream reading would describe it (no RTMP server runs in these tests), with
        /// every cause, a failed connect, and hostile strings wherever a report carries text.
        static func handBuiltRTMPReport() throws -> FirstFrameReport {
            var report = FirstFrameReport(
                url: "rtmp://<evil>.test/live/\"x\"",
                preset: "instant",
                knobs: Preset.instant.knobs
            )
            let hops = """
                [{"url": "rtmp://<evil>.test:1935/live/\\"x\\"", "host": "<evil>.test",
                  "dns": {"host": "<evil>.test", "startMs": 0.5, "endMs": 38, "source": "resolver", "answers": ["::1", "127.0.0.1"]},
                  "connects": [
                    {"address": "::1", "port": 1935, "startMs": 38.2, "endMs": 38.6, "outcome": "failed", "error": "Connection refused <&>"},
                    {"address": "127.0.0.1", "port": 1935, "startMs": 38.7, "endMs": 52, "outcome": "connected"}],
                  "requestStartMs": 52.2, "responseStartMs": 60, "status": null, "reusedConnection": false,
                  "rtmp": {
                    "phases": [
                      {"name": "handshake", "startMs": 52.2, "endMs": 68, "stalls": []},
                      {"name": "connect", "startMs": 68, "endMs": 118, "stalls": [
                        {"startMs": 72, "endMs": 112, "awaiting": "server", "after": "after sending connect & <b>"}]},
                      {"name": "createStream", "startMs": 118, "endMs": 126, "stalls": []},
                      {"name": "play", "startMs": 126, "endMs": 175, "stalls": [
                        {"startMs": 130, "endMs": 170, "awaiting": "server", "after": "after sending play\\u0001"}]}],
                    "firstMediaByteMs": 175, "firstVideoMs": 180, "firstAudioMs": 178,
                    "firstKeyframeStartMs": 410, "firstKeyframeEndMs": 470,
                    "stalls": [
                      {"startMs": 72, "endMs": 112, "awaiting": "server", "after": "after sending connect & <b>"},
                      {"startMs": 130, "endMs": 170, "awaiting": "server", "after": "after sending play\\u0001"}],
                    "isComplete": true}}]
                """
            report.hops = try JSONDecoder().decode([FirstFrameReport.Hop].self, from: Data(hops.utf8))
            var cursor = 0.0
            for (stage, duration) in [
                (Stage.dns, 38.0), (.tcpConnect, 14.2), (.httpResponse, 7.8), (.formatProbe, 420), (.streamInfo, 95),
                (.buffering, 5), (.decode, 60),
            ] {
                report.stages.append(
                    .init(
                        name: stage,
                        startMs: cursor,
                        endMs: cursor + duration,
                        bytes: stage.isNetwork ? 0 : 48_000,
                        packets: stage.isNetwork ? 0 : 12
                    )
                )
                report.summary[stage] = duration
                cursor += duration
            }
            let spans: [FirstFrameReport.CauseSpan] = [
                .init(cause: .networkSetup, startMs: 0, endMs: 52, hop: 0, stages: [.dns, .tcpConnect]),
                .init(cause: .serverResponse, startMs: 52, endMs: 60, hop: 0, stages: [.httpResponse]),
                .init(cause: .protocolExchange, startMs: 60, endMs: 175, hop: 0, stages: [.formatProbe]),
                .init(cause: .keyframeWait, startMs: 175, endMs: 410, stages: [.formatProbe]),
                .init(cause: .keyframeTransfer, startMs: 410, endMs: 470, stages: [.formatProbe]),
                .init(cause: .clientWait, startMs: 470, endMs: 580, stages: [.formatProbe, .streamInfo, .buffering]),
                .init(cause: .decode, startMs: 580, endMs: cursor, stages: [.buffering, .decode]),
            ]
            report.causes = .init(spans: spans, keyframeArrival: .network, firstPictureMs: cursor)
            report.summary.firstVideoFrameMs = cursor
            report.milestones.firstByteMs = 60
            report.milestones.firstKeyframeMs = 470
            report.milestones.firstVideoFrameMs = cursor
            report.milestones.firstAudioFrameMs = cursor + 12
            report.outcome = .ok
            report.advice = AdviceRules.advice(for: report)
            return report
        }
    }
}

/// Headless Chromium and ffmpeg, for the screenshot test.
enum Browser {
    static let chromium = "/usr/bin/chromium"

    /// Renders `page` to a PNG of `width` × `height` pixels; kills Chromium if it takes more than a minute.
    static func screenshot(of page: URL, to png: URL, width: Int, height: Int, profile: URL) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium)
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            "--user-data-dir=\(profile.path)", "--window-size=\(width),\(height)", "--screenshot=\(png.path)",
            page.absoluteString,
        ]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let finished = try await eventually(timeout: 60) { !process.isRunning }
        if !finished {
            // SIGKILL: the child inherits the test process's signal mask, in which dispatch blocks SIGTERM.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            Issue.record("chromium took more than 60 s; killed")
            return
        }
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "chromium exited with \(process.terminationStatus)")
        #expect(FileManager.default.fileExists(atPath: png.path), "chromium wrote no screenshot")
    }

    /// The PNG's pixels as packed RGB, through `ffmpeg -f rawvideo -pix_fmt rgb24 -`.
    static func rgb(of png: URL) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        process.arguments = ["-nostdin", "-v", "error", "-i", png.path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        let output = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try? output.fileHandleForReading.close()
        return [UInt8](data)
    }

    /// `#rrggbb` → (r, g, b).
    static func components(_ hex: String) -> (Int, Int, Int) {
        let value = Int(hex.dropFirst(), radix: 16) ?? 0
        return (value >> 16 & 0xFF, value >> 8 & 0xFF, value & 0xFF)
    }
}
