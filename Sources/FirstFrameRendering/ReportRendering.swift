import FirstFrame
import Foundation

/// Ways to show reports: a terminal waterfall and JSON Lines (``ReportAggregate`` renders the aggregate over repeats).
public enum ReportRendering {
    /// One bar per stage, placed and scaled on the open's timeline, with its milliseconds; then one bar per cause
    /// (why the time passed) and the advice.
    ///
    /// ```
    /// dns           ▏                                          0.2 ms
    /// httpResponse  ▕█                                         1.3 ms
    /// …
    /// why:
    /// keyframeWait       ███████████████████████████       1991.7 ms  in formatProbe+streamInfo
    /// → waited 1992 ms for the edge's next keyframe: …
    /// ```
    public static func waterfall(_ report: FirstFrameReport, width: Int = 48) -> String {
        let total = max(report.stages.last?.endMs ?? 0, 0.001)
        var lines: [String] = []
        let title =
            report.outcome == .ok
            ? String(format: "%@  first picture %.1f ms", report.url, report.summary.firstVideoFrameMs ?? 0)
            : "\(report.url)  FAILED in \(report.error?.stage.rawValue ?? "?"): \(report.error?.kind.rawValue ?? "?"): \(report.error?.message ?? "")"
        lines.append(title + (report.preset.map { "  [\($0)]" } ?? ""))
        func bar(_ name: String, startMs: Double, durationMs: Double, nameWidth: Int) -> String {
            let from = Int((startMs / total * Double(width)).rounded(.down))
            let length = max(1, Int((durationMs / total * Double(width)).rounded()))
            let bar =
                String(repeating: " ", count: min(from, width - 1))
                + String(repeating: "█", count: min(length, width - min(from, width - 1)))
            return
                "\(name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)) \(bar.padding(toLength: width, withPad: " ", startingAt: 0)) "
                + String(format: "%8.1f ms", durationMs)
        }
        for span in report.stages {
            lines.append(
                bar(span.name.rawValue, startMs: span.startMs, durationMs: span.durationMs, nameWidth: 13)
                    + (span.note.map { "  (\($0))" } ?? "")
            )
        }
        let milestones = report.milestones
        let marks = [
            ("first byte", milestones.firstByteMs), ("keyframe", milestones.firstKeyframeMs),
            ("picture", milestones.firstVideoFrameMs), ("audio", milestones.firstAudioFrameMs),
        ]
        .compactMap { name, value in value.map { String(format: "%@ %.1f", name, $0) } }
        if !marks.isEmpty { lines.append("milestones (ms): " + marks.joined(separator: ", ")) }
        for (index, hop) in report.hops.enumerated() where report.hops.count > 1 || hop.redirectTo != nil {
            lines.append(
                "hop \(index): \(hop.url ?? hop.host ?? "?") → \(hop.status.map(String.init) ?? "-")"
                    + (hop.redirectTo.map { " → \($0)" } ?? "")
            )
        }
        for hop in report.hops {
            guard let rtmp = hop.rtmp else { continue }
            lines.append(
                "rtmp: "
                    + rtmp.phases.map { phase in
                        String(format: "%@ %.1f ms", phase.name, (phase.endMs ?? phase.startMs) - phase.startMs)
                            + (phase.stalls.isEmpty
                                ? ""
                                : String(
                                    format: " (%d stall%@ %.1f ms%@)",
                                    phase.stalls.count,
                                    phase.stalls.count == 1 ? "" : "s",
                                    phase.stallMs,
                                    phase.heldBack.isEmpty
                                        ? ""
                                        : String(
                                            format: "; server Nagle +%d round trip%@",
                                            phase.heldBack.count,
                                            phase.heldBack.count == 1 ? "" : "s"
                                        )
                                ))
                    }.joined(separator: ", ")
            )
        }
        if let causes = report.causes, !causes.spans.isEmpty {
            lines.append(
                "why (\(causes.keyframeArrival == .network ? "keyframe arrival from the network" : "keyframe arrival from the demuxer: an upper bound")):"
            )
            for span in causes.spans where span.durationMs >= 0.05 {
                let stages = span.stages.map(\.rawValue).joined(separator: "+")
                lines.append(
                    bar(span.cause.rawValue, startMs: span.startMs, durationMs: span.durationMs, nameWidth: 16)
                        + (stages.isEmpty ? "" : "  in \(stages)")
                )
            }
            if let client = causes.clientAttributableMs {
                lines.append(
                    String(
                        format:
                            "client-attributable %.1f ms (first picture without network set-up, server response, keyframe wait)",
                        client
                    )
                )
            }
        }
        if let floor = report.floor { lines.append(floorLine(floor)) }
        for advice in report.advice {
            lines.append("→ " + advice.message + (advice.sweep.map { "\n  confirm: \($0)" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }

    /// `floor 252 ms = 3 round trips × 60.4 ms + keyframe 20.3 KB in 2 flights 66 ms + decode 5 ms; first picture
    /// 1.03 × floor, 3.1 round trips spent`.
    static func floorLine(_ floor: FirstFrameReport.Floor) -> String {
        var parts = [
            String(
                format: "%d round trip%@ × %.1f ms",
                floor.roundTripsNeeded,
                floor.roundTripsNeeded == 1 ? "" : "s",
                floor.rttMs
            )
        ]
        if let bytes = floor.keyframeBytes {
            let flights = floor.keyframeFlights.map { " in \($0) flight\($0 == 1 ? "" : "s")" } ?? ""
            parts.append(String(format: "keyframe %.1f KB%@ %.0f ms", Double(bytes) / 1000, flights, floor.transferMs))
        }
        if floor.keyframeWaitMs > 0 { parts.append(String(format: "keyframe wait %.0f ms", floor.keyframeWaitMs)) }
        parts.append(String(format: "decode %.0f ms", floor.decodeMs))
        var line = String(format: "floor %.0f ms = ", floor.floorMs) + parts.joined(separator: " + ")
        if let ratio = floor.ratio { line += String(format: "; first picture %.2f × floor", ratio) }
        line += String(format: ", %.1f round trips spent", floor.roundTripsSpent)
        if floor.retransmits + floor.outOfOrderPackets > 0 {
            line += ", \(floor.retransmits) retransmitted, \(floor.outOfOrderPackets) out of order"
        }
        return line
    }

    /// The report as one line of JSON (camelCase keys, sorted for stable diffs).
    public static func jsonLine(_ report: FirstFrameReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }
}
