import FirstFrame
import Foundation

extension ReportPage {
    /// The numbers over a set of opens: first picture, client-attributable time, each stage and each cause as
    /// p50 / p95 / min / max, and what failed.
    ///
    /// Percentiles are ``ReportAggregate``'s (nearest rank, over the opens that reached a picture): a failed open
    /// has no first picture, and its stages and causes stop wherever it failed, so pooling them with the rest
    /// would drag every distribution towards whatever the failure cut short. Failures are counted on their own.
    struct Summary {
        typealias Spread = ReportAggregate.Distribution

        var opens: Int
        var reached: Int
        var failures: [FirstFrameReport.Failure?]
        var firstPicture: Spread?
        var clientAttributable: Spread?
        /// Only the stages and causes that took time in at least one open: a page about HTTP-FLV has no TLS row.
        var stages: [(Stage, Spread)]
        var causes: [(Cause, Spread)]

        init(_ reports: [FirstFrameReport]) {
            let succeeded = reports.filter { $0.outcome == .ok && $0.summary.firstVideoFrameMs != nil }
            opens = reports.count
            reached = succeeded.count
            failures = reports.filter { $0.outcome == .failed || $0.summary.firstVideoFrameMs == nil }.map(\.error)
            firstPicture = Spread(succeeded.compactMap(\.summary.firstVideoFrameMs))
            clientAttributable = Spread(succeeded.compactMap { $0.causes?.clientAttributableMs })
            stages = Stage.allCases.compactMap { stage in
                let values = succeeded.map { $0.summary[stage] }
                guard values.contains(where: { $0 > 0 }), let spread = Spread(values) else { return nil }
                return (stage, spread)
            }
            let withCauses = succeeded.compactMap(\.causes)
            causes = Cause.allCases.compactMap { cause in
                let values = withCauses.map { $0[cause] }
                guard values.contains(where: { $0 > 0 }), let spread = Spread(values) else { return nil }
                return (cause, spread)
            }
        }

        /// "2 × tcpConnect/connect, 1 × http/http": the failures grouped by stage and kind, most frequent first.
        var failureText: String {
            var counts: [String: Int] = [:]
            for failure in failures {
                counts[failure.map { "\($0.stage.rawValue)/\($0.kind.rawValue)" } ?? "unknown", default: 0] += 1
            }
            return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .map { "\($0.value) × \($0.key)" }.joined(separator: ", ")
        }

        /// The numbers as three small tables side by side (they wrap under each other in a narrow window): first
        /// picture and client-attributable time, stages, causes.
        func table() -> String {
            var html =
                "<p class=\"meta\">\(opens) open\(opens == 1 ? "" : "s"), \(opens - reached) failed"
                + (failures.isEmpty ? "" : " (" + ReportPage.escape(failureText) + ")")
                + (reached > 0
                    ? "; percentiles (nearest rank) over the \(reached) that reached a picture"
                    : "; none reached a picture")
                + "</p>\n"
            guard reached > 0 else { return html }
            let header = "<tr><th>ms</th><th>p50</th><th>p95</th><th>min</th><th>max</th></tr>\n"
            html += "<div class=\"tables\">\n<table class=\"summary\"><caption>open</caption>\n" + header
            html += Self.row("<strong>first picture</strong>", firstPicture)
            html += Self.row("client-attributable", clientAttributable)
            html += "</table>\n"
            if !stages.isEmpty {
                html += "<table class=\"summary\"><caption>stages (where FFmpeg was blocked)</caption>\n" + header
                for (stage, spread) in stages { html += Self.row(stage.rawValue, spread) }
                html += "</table>\n"
            }
            if !causes.isEmpty {
                html += "<table class=\"summary\"><caption>causes (why the time passed)</caption>\n" + header
                for (cause, spread) in causes {
                    html += Self.row("<span class=\"swatch c-\(cause.rawValue)\"></span>\(cause.rawValue)", spread)
                }
                html += "</table>\n"
            }
            return html + "</div>\n"
        }

        private static func row(_ label: String, _ spread: Spread?) -> String {
            guard let spread else { return "<tr><td>\(label)</td><td>-</td><td>-</td><td>-</td><td>-</td></tr>\n" }
            return "<tr><td>\(label)</td>"
                + [spread.p50, spread.p95, spread.min, spread.max].map { "<td>\(ReportPage.ms($0))</td>" }.joined()
                + "</tr>\n"
        }

        /// A sweep's combinations side by side, in the order given, each linking to its section: first picture
        /// with the client-attributable time next to it (what a sweep on a URL it does not control should rank
        /// by). The best client-attributable median is in bold (the first picture's when no open has causes).
        static func combinations(_ sections: [(Section, anchor: String)]) -> String {
            let summaries = sections.map { Summary($0.0.reports) }
            let byClient = summaries.contains { $0.clientAttributable != nil }
            func key(_ summary: Summary) -> Double? {
                byClient ? summary.clientAttributable?.p50 : summary.firstPicture?.p50
            }
            let best = summaries.compactMap(key).min()
            var html =
                "<div class=\"scroll\"><table class=\"combinations\">\n"
                + "<tr><th>combination</th><th>opens</th><th>failed</th><th>picture p50</th><th>p95</th><th>min</th><th>max</th>"
                + "<th>client-attributable p50</th><th>p95</th></tr>\n"
            for ((section, anchor), summary) in zip(sections, summaries) {
                let isBest = best != nil && key(summary) == best
                html +=
                    "<tr\(isBest ? " class=\"best\"" : "")><td class=\"label\"><a href=\"#\(anchor)\">"
                    + ReportPage.escape(section.label.isEmpty ? "(no label)" : section.label) + "</a></td>"
                    + "<td>\(summary.opens)</td><td>\(summary.opens - summary.reached)</td>"
                let picture = summary.firstPicture
                let client = summary.clientAttributable
                for value in [picture?.p50, picture?.p95, picture?.min, picture?.max, client?.p50, client?.p95] {
                    html += "<td>" + (value.map(ReportPage.ms) ?? "-") + "</td>"
                }
                html += "</tr>\n"
            }
            return html + "</table></div>\n"
        }
    }
}
