import FirstFrame
import Foundation

/// Reports as one self-contained HTML page: per open, a waterfall of its hops, stages, causes and milestones on one
/// time axis, with the open's advice under it; summary tables per section and over the whole page.
///
/// The page stands alone — inline CSS, inline SVG, the reader's own system fonts, no script, nothing fetched — so it
/// can be attached to a bug report, mailed, or opened from an archive years later and look the same. Every string
/// that came from a report (URLs, host names, error messages, advice) is escaped; the markup is also well-formed
/// XML, so a page can be checked with any XML parser.
///
/// ```swift
/// let opener = StreamOpener(preset: .instant)
/// var reports: [FirstFrameReport] = []
/// for _ in 0..<5 { reports.append(await opener.report(opening: url)) }
/// let page = ReportPage(title: "probe \(url)", sections: [.init(label: "instant", reports: reports)])
/// try page.write(to: URL(fileURLWithPath: "open.html"))
/// ```
public struct ReportPage: Sendable, Hashable {
    /// Opens summarised together: the repeats of one probe, or one combination of a sweep.
    public struct Section: Sendable, Hashable {
        /// What the opens have in common, shown as the section's heading: a preset, or a sweep combination
        /// (`fpsprobesize=0 minVideoFrames=1`).
        public var label: String
        /// The opens, in the order they ran.
        public var reports: [FirstFrameReport]

        public init(label: String, reports: [FirstFrameReport]) {
            self.label = label
            self.reports = reports
        }
    }

    /// The page's title and main heading.
    public var title: String
    /// The sections, in the order the page shows them.
    public var sections: [Section]

    public init(title: String, sections: [Section]) {
        self.title = title
        self.sections = sections
    }

    /// The colour of a cause wherever the page shows it (causes band, legends, tables), as `#rrggbb`.
    ///
    /// The Okabe–Ito palette: seven hues that stay apart for the common forms of colour blindness. Fixed per
    /// cause, so that two pages, or two screenshots, can be compared at a glance; nothing else on the page uses
    /// these hues (the network and stage bars are slate greys), so colour on a waterfall always means a cause.
    public static func color(of cause: Cause) -> String {
        switch cause {
        case .networkSetup: "#0072B2"
        case .serverResponse: "#56B4E9"
        case .protocolExchange: "#CC79A7"
        case .keyframeWait: "#E69F00"
        case .keyframeTransfer: "#F0E442"
        case .clientWait: "#D55E00"
        case .decode: "#009E73"
        }
    }

    /// The whole page, from `<!DOCTYPE html>` to `</html>`.
    public func html() -> String {
        let all = sections.flatMap(\.reports)
        let failed = all.filter { $0.outcome == .failed }.count
        var page = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8"/>
            <meta name="viewport" content="width=device-width, initial-scale=1"/>
            <title>\(Self.escape(title))</title>
            <style>\(Self.styleSheet)</style>
            </head>
            <body>
            <header>
            <h1>\(Self.escape(title))</h1>
            <p class="meta">\(all.count) open\(all.count == 1 ? "" : "s")\(sections.count > 1 ? " in \(sections.count) sections" : "")\
             · \(failed) failed · milliseconds from the moment each open was asked for, one monotonic clock</p>
            </header>

            """
        page += Self.key
        if sections.count > 1 {
            // A sweep: the combinations side by side first, then everything pooled, then each on its own.
            page += "<section class=\"overview\">\n<h2>Combinations</h2>\n"
            page += Summary.combinations(sections.enumerated().map { ($0.element, "section-\($0.offset + 1)") })
            page += "<h3>All opens</h3>\n" + Summary(all).table()
            page += "</section>\n"
        }
        for (index, section) in sections.enumerated() {
            page += "<section id=\"section-\(index + 1)\">\n<h2>\(Self.escape(section.label))</h2>\n"
            // One open's numbers are its waterfall's; a table of percentiles over one value would only repeat them.
            if section.reports.count > 1 { page += Summary(section.reports).table() }
            for (number, report) in section.reports.enumerated() {
                page += Self.open(report, number: number + 1, of: section.reports.count)
            }
            page += "</section>\n"
        }
        if sections.isEmpty || all.isEmpty { page += "<p class=\"meta\">No opens.</p>\n" }
        page += "</body>\n</html>\n"
        return page
    }

    /// Writes ``html()`` to `file` with ``OutputFile/write(_:to:)``: a regular file (or a new path) is replaced
    /// atomically, so a reader never sees half a page; a device, a FIFO or a link to one is written through, never
    /// replaced by a regular file; a link to a file stays a link.
    ///
    /// - Throws: ``OutputFileError`` (a directory, a socket, or the system's error).
    public func write(to file: URL) throws(OutputFileError) {
        try OutputFile.write(Array(html().utf8), to: file.path)
    }

    // MARK: One open

    /// An open: what it reached (or its error), its waterfall, the legend of its causes, its advice. A `<details>`
    /// element, open by default, so that a long page can be folded by hand without any script.
    private static func open(_ report: FirstFrameReport, number: Int, of count: Int) -> String {
        let ok = report.outcome == .ok
        var html = "<details class=\"open \(ok ? "ok" : "failed")\" open=\"open\">\n<summary>"
        html += count > 1 ? "<span class=\"number\">#\(number)</span> " : ""
        if ok, let picture = report.summary.firstVideoFrameMs {
            html += "<span class=\"badge ok\">\(ms(picture)) ms</span> first picture"
        } else {
            html += "<span class=\"badge failed\">failed</span>"
            if let error = report.error { html += " in \(escape(error.stage.rawValue))" }
        }
        html += " · <span class=\"url\">\(escape(report.url))</span></summary>\n"

        var facts: [String] = []
        if let preset = report.preset { facts.append("preset \(escape(preset))") }
        if let client = report.causes?.clientAttributableMs {
            facts.append("client-attributable \(ms(client)) ms")
        }
        if !report.streams.isEmpty {
            facts.append(
                report.streams.map { stream in
                    var text = stream.codec
                    if let width = stream.width, let height = stream.height { text += " \(width)×\(height)" }
                    if let rate = stream.sampleRate { text += " \(rate) Hz" }
                    return escape(text)
                }.joined(separator: ", ")
            )
        }
        if let arrival = report.causes?.keyframeArrival, report.milestones.firstKeyframeMs != nil {
            facts.append(
                arrival == .network
                    ? "keyframe arrival from the network trace"
                    : "keyframe arrival from the demuxer (an upper bound)"
            )
        }
        if let verified = report.tlsPeerVerified {
            facts.append(verified ? "TLS peer verified" : "TLS peer NOT verified")
        }
        if !facts.isEmpty { html += "<p class=\"meta\">\(facts.joined(separator: " · "))</p>\n" }

        if let error = report.error {
            html +=
                "<p class=\"error\"><strong>Failed in \(escape(error.stage.rawValue))</strong> · \(escape(error.kind.rawValue))"
                + " · \(escape(error.message))</p>\n"
        } else if !ok {
            html += "<p class=\"error\"><strong>Failed</strong> without an error recorded</p>\n"
        }
        html += "<div class=\"scroll\">\n" + Waterfall.svg(for: report) + "</div>\n"
        html += legend(report)
        html += advice(report)
        html += "</details>\n"
        return html
    }

    /// The causes the open's band shows, each with its colour and total, in the order of ``Cause``.
    private static func legend(_ report: FirstFrameReport) -> String {
        guard let causes = report.causes else { return "" }
        let present = Cause.allCases.filter { cause in causes.spans.contains { $0.cause == cause } }
        guard !present.isEmpty else { return "" }
        var html = "<ul class=\"legend\">"
        for cause in present {
            html +=
                "<li data-cause=\"\(cause.rawValue)\"><span class=\"swatch c-\(cause.rawValue)\"></span>\(cause.rawValue)"
                + " <span class=\"num\">\(ms(causes[cause])) ms</span>"
                + (cause.isClientAttributable ? " <span class=\"tag\">client</span>" : "") + "</li>"
        }
        return html + "</ul>\n"
    }

    /// The advice lines: message, knobs to try, the sweep that confirms them.
    private static func advice(_ report: FirstFrameReport) -> String {
        guard !report.advice.isEmpty else {
            return report.outcome == .ok ? "<p class=\"meta\">No advice: no cause above its threshold.</p>\n" : ""
        }
        var html = "<ul class=\"advice\">\n"
        for line in report.advice {
            html +=
                "<li><span class=\"swatch c-\(line.cause.rawValue)\" title=\"\(line.cause.rawValue)\"></span>\(escape(line.message))"
            if !line.knobs.isEmpty {
                html += "<br/>try " + line.knobs.map { "<code>\(escape($0))</code>" }.joined(separator: " ")
            }
            if let sweep = line.sweep { html += "<br/>confirm with <code>\(escape(sweep))</code>" }
            html += "</li>\n"
        }
        return html + "</ul>\n"
    }

    // MARK: Shared

    /// Milliseconds as the page writes them: one decimal.
    package static func ms(_ value: Double) -> String { String(format: "%.1f", value) }

    /// Text made safe for element content and quoted attribute values. Control characters (which XML does not
    /// allow at all) become U+FFFD: an error message is shown, never able to break the page.
    package static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            case "\t", "\n", "\r": escaped.unicodeScalars.append(scalar)
            case _
            where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0xFFFE
                || scalar.value == 0xFFFF:
                escaped += "\u{FFFD}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// How to read a waterfall: the slate bars and their marks (causes have their own legend under each open).
    private static let key: String = {
        let items: [(String, String)] = [
            ("k-dns", "DNS lookup (its source: cache, system, resolver…)"), ("k-connect", "connect attempt"),
            ("k-failed", "failed connect / lookup"), ("k-abandoned", "abandoned connect"), ("k-tls", "TLS handshake"),
            ("k-wait", "request → first byte (tick)"), ("k-stage", "media stage"), ("k-phase", "RTMP phase"),
            ("k-stall", "RTMP stall"),
        ]
        var html = "<ul class=\"legend key\">"
        for (style, text) in items { html += "<li><span class=\"swatch \(style)\"></span>\(text)</li>" }
        html += "<li>vertical lines: first byte · keyframe · picture · audio · failure</li></ul>\n"
        return html
    }()

    /// The page's only style sheet. The waterfall SVG scales with the window but never below 880 px, so its text
    /// stays readable: in a narrow window the figure scrolls sideways while the text around it wraps.
    private static let styleSheet: String = {
        var css = """

            :root { color-scheme: light; }
            body { margin: 0 auto; max-width: 1240px; padding: 12px 16px 32px; color: #1f2937; background: #fff;
              font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", sans-serif; }
            h1 { font-size: 20px; margin: 4px 0; overflow-wrap: anywhere; }
            h2 { font-size: 17px; margin: 22px 0 6px; padding-top: 8px; border-top: 2px solid #e5e7eb; overflow-wrap: anywhere; }
            h3 { font-size: 15px; margin: 14px 0 4px; }
            .meta { color: #4b5563; margin: 2px 0 6px; }
            .scroll { overflow-x: auto; }
            .tables { display: flex; flex-wrap: wrap; gap: 0 28px; align-items: flex-start; }
            table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 4px 0 10px; }
            caption { text-align: left; color: #4b5563; padding-bottom: 2px; }
            th, td { padding: 2px 9px; text-align: right; border-bottom: 1px solid #e5e7eb; white-space: nowrap; }
            th:first-child, td:first-child { text-align: left; }
            th { font-weight: 600; background: #f9fafb; }
            tr.best td { font-weight: 700; }
            td.label { white-space: normal; overflow-wrap: anywhere; max-width: 420px; }
            details.open { border: 1px solid #e5e7eb; border-radius: 6px; margin: 12px 0; padding: 6px 12px 8px; }
            details.failed { border-color: #f1a9a9; }
            summary { cursor: pointer; font-weight: 600; overflow-wrap: anywhere; }
            .url { font: 13px ui-monospace, "DejaVu Sans Mono", monospace; font-weight: 400; overflow-wrap: anywhere; }
            .badge { display: inline-block; padding: 0 6px; border-radius: 4px; color: #fff; }
            .badge.ok { background: #1f2937; }
            .badge.failed { background: #c62828; }
            .number { color: #6b7280; font-weight: 400; }
            .error { background: #fdecea; border-left: 4px solid #c62828; padding: 5px 10px; margin: 6px 0; overflow-wrap: anywhere; }
            ul.legend { list-style: none; padding: 0; margin: 6px 0; display: flex; flex-wrap: wrap; gap: 2px 18px; }
            ul.key { font-size: 12.5px; color: #374151; }
            ul.advice { margin: 6px 0; padding-left: 20px; }
            ul.advice li { margin: 4px 0; overflow-wrap: anywhere; }
            .swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px;
              vertical-align: -1px; print-color-adjust: exact; -webkit-print-color-adjust: exact; }
            .tag { font-size: 11px; color: #6b7280; border: 1px solid #d1d5db; border-radius: 3px; padding: 0 3px; }
            .num { font-variant-numeric: tabular-nums; color: #374151; }
            code { font: 12.5px ui-monospace, "DejaVu Sans Mono", monospace; background: #f3f4f6; padding: 1px 4px;
              border-radius: 3px; overflow-wrap: anywhere; }
            svg.waterfall { display: block; width: 100%; min-width: 880px; height: auto; margin: 6px 0; }
            svg.waterfall text { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", sans-serif; }
            a { color: inherit; }
            .k-stall { background: repeating-linear-gradient(135deg, #9aa5b1 0 2px, #eef1f4 2px 5px); }

            """
        for (style, color) in Waterfall.keyColors { css += ".\(style) { background: \(color); }\n" }
        for cause in Cause.allCases { css += ".c-\(cause.rawValue) { background: \(color(of: cause)); }\n" }
        return css
    }()
}
