import FirstFrame
import Foundation

extension ReportPage {
    /// One open's waterfall as inline SVG, on one time axis from 0 (the open asked for) to past its last event:
    ///
    /// - milestone labels and the axis (ticks in milliseconds) on top; milestones as vertical lines across the bars;
    /// - one block per hop: its label (number, host, status, path, HLS role) and, on one lane, its DNS lookup, each
    ///   connect attempt (parallel attempts get lanes of their own; failed ones red), TLS and request → first byte;
    ///   an RTMP hop adds a lane of its phases with the stalls hatched; a redirect is an arrow to the next hop;
    /// - one row per media stage (``FirstFrameReport/stages``);
    /// - the causes band (``FirstFrameReport/CauseBreakdown/spans``) in the colours of ``ReportPage/color(of:)``.
    ///
    /// Bars for a few milliseconds of loopback network are a sliver on a one-second axis, so every bar's numbers are
    /// also written out as text beside its block, and every bar has a `<title>` (a tooltip) with the details.
    /// Structure is drawn in slate greys so that colour means cause. Everything is positioned in Swift: the SVG
    /// has no script and no references (`url(#…)`, `<use>`), hatching included.
    struct Waterfall {
        // Geometry, in viewBox units. The page scales the SVG to its width; text is laid out by estimate (SVG cannot
        // measure text without a script), with `characterWidth` the average advance of DejaVu Sans, the widest of
        // the usual system fonts, so estimates err towards room to spare.
        static let width = 960.0
        static let labelX = 8.0
        static let labelEnd = 234.0
        static let plotStart = 246.0
        static let plotEnd = 928.0
        static let fontSize = 11.0
        static let characterWidth = 6.4
        static let laneHeight = 16.0
        static let barHeight = 10.0
        static let lineHeight = 13.0
        /// Bars shorter than this are drawn this wide: a 0.1 ms lookup is still there to see and hover.
        static let minimumBar = 1.5
        /// Notes go beside a block when this much width is free on one side, else below it.
        static let minimumNoteRoom = 260.0

        // The slate greys of structure (network and stages); causes alone are coloured.
        static let dnsColor = "#6B8BA4"
        static let connectColor = "#3D5A80"

        /// What a connect's hedge did, as a suffix: empty without one.
        static func hedgeNote(_ hedge: FirstFrameReport.Hop.Hedge?) -> String {
            guard let hedge else { return "" }
            let at = ReportPage.ms(hedge.startMs)
            return switch hedge.winner {
            case .hedge: " (hedged at \(at) ms: the hedge connected first)"
            case .original: " (hedged at \(at) ms: the first attempt connected first)"
            case .failed: " (hedge at \(at) ms failed\(hedge.error.map { ": \($0)" } ?? ""))"
            case .abandoned, nil: " (hedged at \(at) ms)"
            }
        }
        static let abandonedColor = "#B7C2CE"
        static let failedColor = "#C62828"
        static let tlsColor = "#5E548E"
        static let waitColor = "#B8C4D0"
        static let stageColor = "#8C9AAD"
        static let phaseColors = ["#475569", "#64748B", "#7C8BA1", "#94A3B8"]
        static let textColor = "#1F2937"
        static let mutedColor = "#6B7280"
        static let gridColor = "#E5E7EB"
        /// A white outline painted under the glyphs: text stays legible over grid and milestone lines.
        static let halo = "stroke=\"#fff\" stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\""

        /// The key's swatches: CSS class → colour (the page's key shows them; the stall's hatching is CSS of its own).
        static let keyColors: [(String, String)] = [
            ("k-dns", dnsColor), ("k-connect", connectColor), ("k-failed", failedColor),
            ("k-abandoned", abandonedColor),
            ("k-tls", tlsColor), ("k-wait", waitColor), ("k-stage", stageColor), ("k-phase", phaseColors[1]),
        ]

        /// The time axis: a round step (1, 2 or 5 × 10ⁿ) giving about eight ticks, ending on a tick.
        struct Axis {
            let endMs: Double
            let stepMs: Double

            init(extentMs: Double) {
                let span = Swift.max(extentMs, 1)
                let rough = span / 8
                let magnitude = pow(10, (log10(rough)).rounded(.down))
                stepMs = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough * 0.999 } ?? 10 * magnitude
                endMs = (span / stepMs - 1e-9).rounded(.up) * stepMs
            }

            func x(_ ms: Double) -> Double {
                plotStart + Swift.min(Swift.max(ms, 0), endMs) / endMs * (plotEnd - plotStart)
            }

            var ticks: [Double] { stride(from: 0, through: endMs + stepMs / 2, by: stepMs).map { $0 } }

            func label(_ ms: Double) -> String {
                stepMs >= 1
                    ? String(format: "%.0f", ms)
                    : stepMs >= 0.1 ? String(format: "%.1f", ms) : String(format: "%.2f", ms)
            }
        }

        /// A piece of text beside a block; `color` for errors.
        private struct Note {
            var text: String
            var color: String?
        }

        /// A bar on a hop's lanes.
        private struct Segment {
            var start: Double
            var end: Double?
            var color: String
            var title: String
        }

        /// A milestone's vertical line and its label.
        private struct Mark {
            var name: String
            var ms: Double
            var color: String
            var dash: String?
            var strokeWidth: Double
        }

        private let report: FirstFrameReport
        private let axis: Axis
        /// The rows' shapes, top to bottom: drawn over the grid, under the milestone lines.
        private var rows = ""
        /// The rows' text: over the milestone lines, notes with a white halo so that a line crossing them does
        /// not cross them out.
        private var labels = ""
        private var y = 0.0

        static func svg(for report: FirstFrameReport) -> String {
            var waterfall = Waterfall(report: report)
            return waterfall.render()
        }

        private init(report: FirstFrameReport) {
            self.report = report
            axis = Axis(extentMs: Self.extent(of: report))
        }

        /// The latest time anything in the report happened.
        private static func extent(of report: FirstFrameReport) -> Double {
            var times = report.stages.map(\.endMs) + (report.causes?.spans.map(\.endMs) ?? [])
            let milestones = report.milestones
            times += [
                milestones.firstByteMs, milestones.firstKeyframeMs, milestones.firstVideoFrameMs,
                milestones.firstAudioFrameMs,
            ].compactMap { $0 }
            for hop in report.hops {
                times += [
                    hop.dns?.startMs, hop.dns?.endMs, hop.tls?.startMs, hop.tls?.endMs, hop.requestStartMs,
                    hop.responseStartMs,
                ].compactMap { $0 }
                times += hop.connects.flatMap { [$0.startMs, $0.endMs ?? $0.startMs] }
                if let rtmp = hop.rtmp {
                    times += rtmp.phases.map { $0.endMs ?? $0.startMs } + rtmp.stalls.map(\.endMs)
                    times += [rtmp.firstMediaByteMs, rtmp.firstKeyframeEndMs].compactMap { $0 }
                }
            }
            return times.filter(\.isFinite).max() ?? 0
        }

        // MARK: Layout, top to bottom

        private mutating func render() -> String {
            let marks = milestones()
            let (markLabels, levels) = Self.layOut(marks, on: axis)
            let tickBaseline = 4 + Double(levels) * Self.lineHeight + 12
            let axisY = tickBaseline + 5
            y = axisY + 6

            var hopAnchors: [(responseX: Double, centerY: Double, startX: Double)] = []
            for (index, hop) in report.hops.enumerated() { hopAnchors.append(hopBlock(index, hop)) }
            for (index, hop) in report.hops.enumerated() where hop.redirectTo != nil && index + 1 < hopAnchors.count {
                rows += Self.arrow(from: hopAnchors[index], to: hopAnchors[index + 1])
            }
            if !report.hops.isEmpty { separator() }
            stageRows()
            separator()
            causesBand()
            let bottom = y + 4
            let height = (bottom + 6).rounded(.up)

            var svg =
                "<svg class=\"waterfall\" viewBox=\"0 0 \(Int(Self.width)) \(Int(height))\" width=\"\(Int(Self.width))\""
                + " height=\"\(Int(height))\" role=\"img\" font-size=\"\(Int(Self.fontSize))\""
                + " font-family=\"system-ui, 'DejaVu Sans', 'Liberation Sans', sans-serif\" fill=\"\(Self.textColor)\">\n"
                + "<title>Waterfall: \(escape(report.url))</title>\n"
            // Grid and axis first, so that bars and lines cover them.
            svg += "<text x=\"\(Self.labelX)\" y=\"\(f(tickBaseline))\" fill=\"\(Self.mutedColor)\">time (ms)</text>\n"
            for tick in axis.ticks {
                let x = f(axis.x(tick))
                svg +=
                    "<line x1=\"\(x)\" y1=\"\(f(axisY))\" x2=\"\(x)\" y2=\"\(f(bottom))\" stroke=\"\(Self.gridColor)\"/>"
                svg +=
                    "<text x=\"\(x)\" y=\"\(f(tickBaseline))\" text-anchor=\"middle\" fill=\"\(Self.mutedColor)\">\(axis.label(tick))</text>\n"
            }
            svg +=
                "<line x1=\"\(f(Self.plotStart))\" y1=\"\(f(axisY))\" x2=\"\(f(Self.plotEnd))\" y2=\"\(f(axisY))\" stroke=\"#9CA3AF\"/>\n"
            svg += rows
            // Milestone lines over the bars (where the picture came, against each bar), under the text.
            for (mark, labelBaseline) in markLabels {
                let x = f(axis.x(mark.ms))
                svg +=
                    "<line x1=\"\(x)\" y1=\"\(f(labelBaseline + 3))\" x2=\"\(x)\" y2=\"\(f(bottom))\" stroke=\"\(mark.color)\""
                    + " stroke-width=\"\(mark.strokeWidth)\"" + (mark.dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")
                    + "><title>\(escape(mark.name)) at \(ReportPage.ms(mark.ms)) ms</title></line>\n"
            }
            svg += labels
            for (mark, labelBaseline) in markLabels {
                let x = axis.x(mark.ms)
                let text = "\(mark.name) \(ReportPage.ms(mark.ms))"
                let fitsRight = x + 3 + Self.textWidth(text) <= Self.width - 4
                svg +=
                    "<text x=\"\(f(fitsRight ? x + 3 : x - 3))\" y=\"\(f(labelBaseline))\" fill=\"\(mark.color)\""
                    + (fitsRight ? "" : " text-anchor=\"end\"")
                    + " font-weight=\"600\" \(Self.halo)>\(escape(text))</text>\n"
            }
            return svg + "</svg>\n"
        }

        /// First byte, keyframe, picture, audio — and where a failed open stopped.
        private func milestones() -> [Mark] {
            let milestones = report.milestones
            var marks: [Mark] = []
            if let ms = milestones.firstByteMs {
                marks.append(.init(name: "first byte", ms: ms, color: "#475569", dash: "4 3", strokeWidth: 1))
            }
            if let ms = milestones.firstKeyframeMs {
                marks.append(.init(name: "keyframe", ms: ms, color: "#9A3412", dash: "2 2", strokeWidth: 1.2))
            }
            if let ms = milestones.firstVideoFrameMs {
                marks.append(.init(name: "picture", ms: ms, color: "#111827", dash: nil, strokeWidth: 1.6))
            }
            if let ms = milestones.firstAudioFrameMs {
                marks.append(.init(name: "audio", ms: ms, color: "#0F766E", dash: "6 3", strokeWidth: 1))
            }
            if report.outcome == .failed {
                let end = Swift.max(report.stages.last?.endMs ?? 0, report.causes?.spans.last?.endMs ?? 0)
                marks.append(.init(name: "failed", ms: end, color: Self.failedColor, dash: nil, strokeWidth: 1.6))
            }
            return marks
        }

        /// Milestone labels stacked in as few levels as keep them apart (a keyframe and its picture a few ms
        /// later are one pixel apart on a long axis): each label takes the first level where it overlaps nothing.
        private static func layOut(_ marks: [Mark], on axis: Axis) -> ([(Mark, Double)], Int) {
            var levelEnds: [Double] = []
            var placed: [(Mark, Double)] = []
            for mark in marks.sorted(by: { $0.ms < $1.ms }) {
                let x = axis.x(mark.ms)
                let width = textWidth("\(mark.name) \(ReportPage.ms(mark.ms))")
                let (left, right) = x + 3 + width <= Self.width - 4 ? (x, x + 3 + width) : (x - 3 - width, x)
                let level = levelEnds.firstIndex { $0 + 6 <= left } ?? levelEnds.count
                if level == levelEnds.count { levelEnds.append(right) } else { levelEnds[level] = right }
                placed.append((mark, 4 + 10 + Double(level) * lineHeight))
            }
            return (placed, levelEnds.count)
        }

        // MARK: Hops

        /// A hop's block; returns where a redirect arrow leaves it and arrives at it.
        private mutating func hopBlock(
            _ index: Int,
            _ hop: FirstFrameReport.Hop
        ) -> (responseX: Double, centerY: Double, startX: Double) {
            let top = y
            let (segments, notes) = Self.hopSegments(hop)
            let lanes = drawLanes(segments, hop: hop, top: top)
            let (path, role) = hopLabel(index, hop, top: top)
            let lanesBottom = top + Double(Swift.max(lanes, 1)) * Self.laneHeight
            let from = segments.map { axis.x($0.start) }.min() ?? Self.plotStart
            let to = segments.map { axis.x($0.end ?? axis.endMs) + Self.minimumBar }.max() ?? Self.plotStart
            let notesBottom = place(notes, from: from, to: to, top: top, below: lanesBottom)
            y = Swift.max(lanesBottom, top + (path.isEmpty && role == nil ? 16 : 28), notesBottom) + 4
            if let rtmp = hop.rtmp { rtmpLane(rtmp) }
            let responseX = axis.x(hop.responseStartMs ?? segments.compactMap(\.end).max() ?? 0)
            return (responseX, top + 8, from)
        }

        /// The hop's bars (lookup, each connect attempt, TLS, request → first byte) and the notes beside them.
        private static func hopSegments(_ hop: FirstFrameReport.Hop) -> (segments: [Segment], notes: [Note]) {
            var segments: [Segment] = []
            var notes: [Note] = []
            if let dns = hop.dns {
                let duration = dns.endMs.map { ReportPage.ms($0 - dns.startMs) + " ms" } ?? "unfinished"
                let answers = dns.answers.prefix(3).joined(separator: ", ") + (dns.answers.count > 3 ? ", …" : "")
                segments.append(
                    .init(
                        start: dns.startMs,
                        end: dns.endMs,
                        color: dns.error == nil ? Self.dnsColor : Self.failedColor,
                        title: "DNS \(dns.host): \(duration) from \(dns.source.rawValue)"
                            + (answers.isEmpty ? "" : " → \(answers)")
                            + (dns.error.map { ": \($0)" } ?? "")
                    )
                )
                notes.append(
                    .init(
                        text: "DNS \(duration) (\(dns.source.rawValue))" + (answers.isEmpty ? "" : " → \(answers)")
                            + (dns.answeredByHedge == true ? ", answered by the hedged second query" : "")
                    )
                )
                if let error = dns.error { notes.append(.init(text: "DNS error: \(error)", color: Self.failedColor)) }
            }
            for (number, attempt) in hop.connects.enumerated() {
                let address =
                    attempt.address.contains(":")
                    ? "[\(attempt.address)]:\(attempt.port)" : "\(attempt.address):\(attempt.port)"
                let duration = attempt.endMs.map { ReportPage.ms($0 - attempt.startMs) + " ms" }
                let name = hop.connects.count > 1 ? "connect \(number + 1) \(address)" : "connect \(address)"
                let text: String
                let color: String
                switch attempt.outcome {
                case .connected where attempt.warm == true:
                    (text, color) = ("\(name) warm connection: 0 round trips", Self.connectColor)
                case .connected:
                    (text, color) = ("\(name) \(duration ?? "?")" + Self.hedgeNote(attempt.hedge), Self.connectColor)
                case .failed:
                    (text, color) = (
                        "✕ \(name) failed after \(duration ?? "?")" + (attempt.error.map { ": \($0)" } ?? ""),
                        Self.failedColor
                    )
                case .abandoned:
                    (text, color) = ("\(name) abandoned after \(duration ?? "?")", Self.abandonedColor)
                case .pending:
                    (text, color) = ("\(name) still connecting", Self.abandonedColor)
                }
                segments.append(.init(start: attempt.startMs, end: attempt.endMs, color: color, title: text))
                notes.append(.init(text: text, color: attempt.outcome == .failed ? Self.failedColor : nil))
            }
            if hop.reusedConnection { notes.append(.init(text: "reused connection")) }
            if let tls = hop.tls {
                let duration = tls.endMs.map { ReportPage.ms($0 - tls.startMs) + " ms" } ?? "unfinished"
                let kind = hop.tlsResumed.map { $0 ? " (resumed)" : " (full handshake)" } ?? ""
                segments.append(
                    .init(
                        start: tls.startMs,
                        end: tls.endMs,
                        color: Self.tlsColor,
                        title: "TLS handshake \(duration)\(kind)"
                    )
                )
                notes.append(.init(text: "TLS \(duration)\(kind)"))
            }
            if let request = hop.requestStartMs {
                let text =
                    hop.responseStartMs.map { "request → first byte \(ReportPage.ms($0 - request)) ms" }
                    ?? "request sent, no response"
                segments.append(.init(start: request, end: hop.responseStartMs, color: Self.waitColor, title: text))
                notes.append(.init(text: text, color: hop.responseStartMs == nil ? Self.failedColor : nil))
            }
            if let target = hop.redirectTo {
                notes.append(.init(text: "\(hop.status.map(String.init) ?? "redirect") → \(target)"))
            }
            if let playlist = hop.playlist {
                notes.append(
                    .init(
                        text: playlist.variants.isEmpty
                            ? "\(playlist.segmentCount) segments, \(String(format: "%.1f", playlist.durationSeconds)) s\(playlist.isLive ? ", live" : "")"
                            : "\(playlist.variants.count) variant\(playlist.variants.count == 1 ? "" : "s")"
                    )
                )
            }
            if let segment = hop.segment {
                notes.append(
                    .init(
                        text: "segment #\(segment.sequence), \(String(format: "%.1f", segment.durationSeconds)) s"
                            + (segment.secondsFromLiveEdge.map { String(format: ", %.1f s from the live edge", $0) }
                                ?? "")
                    )
                )
            }

            return (segments, notes)
        }

        /// Draws the bars on lanes and the first byte's tick; returns the number of lanes used.
        private mutating func drawLanes(_ segments: [Segment], hop: FirstFrameReport.Hop, top: Double) -> Int {
            // Lanes: each bar goes on the first lane free at its start, so parallel connect attempts stack.
            var laneEnds: [Double] = []
            for segment in segments.sorted(by: { $0.start < $1.start }) {
                let end = segment.end ?? axis.endMs
                let lane = laneEnds.firstIndex { $0 <= segment.start + 0.0005 } ?? laneEnds.count
                if lane == laneEnds.count { laneEnds.append(end) } else { laneEnds[lane] = end }
                bar(
                    segment.start,
                    segment.end,
                    y: top + Double(lane) * Self.laneHeight + 3,
                    color: segment.color,
                    title: segment.title
                )
            }
            if let response = hop.responseStartMs {
                // The first byte: a tick across the lane.
                let x = f(axis.x(response))
                rows +=
                    "<line x1=\"\(x)\" y1=\"\(f(top + 1))\" x2=\"\(x)\" y2=\"\(f(top + 15))\" stroke=\"\(Self.textColor)\" stroke-width=\"1.5\"/>\n"
            }

            return laneEnds.count
        }

        /// The hop's label (number, host, status) and the path and HLS role under it.
        private mutating func hopLabel(
            _ index: Int,
            _ hop: FirstFrameReport.Hop,
            top: Double
        ) -> (path: String, role: String?) {
            // The label: number, host, status; the path under it.
            // A hop that never sent its request has no URL: its host and the port it tried.
            let authority =
                Self.authority(of: hop.url)
                ?? hop.host.map { host in hop.connects.first.map { "\(host):\($0.port)" } ?? host } ?? "?"
            let status = hop.status.map(String.init) ?? "—"
            let statusColor =
                switch hop.status ?? 0 {
                case 200..<300: "#166534"
                case 300..<400: "#1E40AF"
                case 400...: Self.failedColor
                default: Self.mutedColor
                }
            let hostRoom = Int((Self.labelEnd - Self.labelX - Self.textWidth(status) - 8) / Self.characterWidth)
            labels +=
                "<text x=\"\(Self.labelX)\" y=\"\(f(top + 11))\" font-weight=\"600\">"
                + escape(Self.truncated("\(index + 1). \(authority)", hostRoom))
                + "<title>\(escape(hop.url ?? authority))</title></text>"
            labels +=
                "<text x=\"\(Self.labelEnd)\" y=\"\(f(top + 11))\" text-anchor=\"end\" font-weight=\"600\" fill=\"\(statusColor)\">\(status)</text>\n"
            // The path under it, and the hop's HLS role (when the trace read one) at the end of that line.
            let path = Self.path(of: hop.url)
            let role = hop.role.map { role in
                switch role {
                case .masterPlaylist: "master playlist"
                case .mediaPlaylist: "media playlist"
                case .segment: "segment"
                case .other: "other"
                }
            }
            if let role {
                labels +=
                    "<text x=\"\(Self.labelEnd)\" y=\"\(f(top + 24))\" text-anchor=\"end\" font-style=\"italic\" fill=\"\(Self.mutedColor)\">\(role)</text>\n"
            }
            if !path.isEmpty {
                let room = Self.labelEnd - Self.labelX - 14 - (role.map { Self.textWidth($0) + 8 } ?? 0)
                labels +=
                    "<text x=\"\(Self.labelX + 14)\" y=\"\(f(top + 24))\" fill=\"\(Self.mutedColor)\">"
                    + escape(Self.truncated(path, Int(room / Self.characterWidth))) + "</text>\n"
            }

            return (path, role)
        }

        /// An RTMP hop's handshake and commands as sub-bars, the stalls in them hatched.
        private mutating func rtmpLane(_ rtmp: FirstFrameReport.RTMPTimeline) {
            let top = y
            labels +=
                "<text x=\"\(Self.labelX + 14)\" y=\"\(f(top + 11))\" fill=\"\(Self.mutedColor)\">RTMP exchange</text>\n"
            var notes: [Note] = []
            // The stalls of the whole exchange; a trace that kept only the phases' own is drawn from those.
            let stalls = rtmp.stalls.isEmpty ? rtmp.phases.flatMap(\.stalls) : rtmp.stalls
            for (index, phase) in rtmp.phases.enumerated() {
                let color = Self.phaseColors[index % Self.phaseColors.count]
                let duration = phase.endMs.map { ReportPage.ms($0 - phase.startMs) + " ms" } ?? "unfinished"
                let stalled = phase.stallMs > 0 ? " (\(ReportPage.ms(phase.stallMs)) stalled)" : ""
                bar(phase.startMs, phase.endMs, y: top + 3, color: color, title: "\(phase.name) \(duration)\(stalled)")
                // Named inside its bar when the name fits there and no stall's hatching would cover it.
                let left = axis.x(phase.startMs)
                let nameEnd = left + Self.textWidth(phase.name) + 6
                let hatched = stalls.contains { axis.x($0.startMs) < nameEnd && axis.x($0.endMs) > left }
                if !hatched && axis.x(phase.endMs ?? axis.endMs) >= nameEnd {
                    labels +=
                        "<text x=\"\(f(axis.x(phase.startMs) + 3))\" y=\"\(f(top + 11.5))\" fill=\"#fff\" font-size=\"9.5\">\(escape(phase.name))</text>\n"
                }
                notes.append(.init(text: "\(phase.name) \(duration)\(stalled)"))
            }
            for stall in stalls { hatch(stall, y: top + 1, height: Self.barHeight + 4) }
            if !stalls.isEmpty {
                notes.append(
                    .init(
                        text:
                            "\(stalls.count) stall\(stalls.count == 1 ? "" : "s") \(ReportPage.ms(stalls.reduce(0) { $0 + $1.durationMs })) ms"
                    )
                )
            }
            if let first = rtmp.firstMediaByteMs {
                notes.append(.init(text: "first media byte \(ReportPage.ms(first)) ms"))
            }
            if !rtmp.isComplete {
                notes.append(.init(text: "chunk stream not traced to the keyframe", color: Self.mutedColor))
            }
            let starts = rtmp.phases.map { axis.x($0.startMs) } + stalls.map { axis.x($0.startMs) }
            let ends = rtmp.phases.map { axis.x($0.endMs ?? axis.endMs) } + stalls.map { axis.x($0.endMs) }
            let notesBottom = place(
                notes,
                from: starts.min() ?? Self.plotStart,
                to: (ends.max() ?? Self.plotStart) + Self.minimumBar,
                top: top,
                below: top + Self.laneHeight
            )
            y = Swift.max(top + Self.laneHeight, notesBottom) + 4
        }

        /// A stall: the bar under it lightened and crossed with diagonal lines, clipped by hand to its rectangle
        /// (a `<pattern>` would need a `url(#…)` reference).
        private mutating func hatch(_ stall: FirstFrameReport.RTMPTimeline.Stall, y top: Double, height: Double) {
            let left = axis.x(stall.startMs)
            let right = Swift.max(axis.x(stall.endMs), left + Self.minimumBar)
            let title = "stall \(ReportPage.ms(stall.durationMs)) ms awaiting \(stall.awaiting), \(stall.after)"
            var path = ""
            var offset = -height
            while offset < right - left {
                // A 45° line from the bottom edge up to the right, cut at the rectangle's sides.
                var (x0, y0) = (left + offset, top + height)
                var (x1, y1) = (left + offset + height, top)
                if x0 < left { (y0, x0) = (y0 - (left - x0), left) }
                if x1 > right { (y1, x1) = (y1 + (x1 - right), right) }
                if x1 > x0 { path += "M\(f(x0)) \(f(y0))L\(f(x1)) \(f(y1))" }
                offset += 4
            }
            rows +=
                "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(right - left))\" height=\"\(f(height))\" fill=\"#fff\""
                + " fill-opacity=\"0.6\" stroke=\"\(Self.textColor)\" stroke-width=\"0.8\"><title>\(escape(title))</title></rect>"
            if !path.isEmpty {
                rows += "<path d=\"\(path)\" stroke=\"\(Self.textColor)\" stroke-width=\"0.9\" fill=\"none\"/>"
            }
            rows += "\n"
        }

        /// A redirect: down from the hop's response to the next hop's lane, then across to its first bar.
        private static func arrow(
            from: (responseX: Double, centerY: Double, startX: Double),
            to: (responseX: Double, centerY: Double, startX: Double)
        ) -> String {
            let color = "#1E40AF"
            let x0 = from.responseX
            let y0 = from.centerY + 6
            let y1 = to.centerY
            let x1 = to.startX - 1
            guard x1 - x0 >= 8 else {
                // The next hop starts right under it: straight down, arrowhead on its lane.
                return
                    "<path d=\"M\(f(x0)) \(f(y0))V\(f(y1 - 9))\" stroke=\"\(color)\" stroke-width=\"1.2\" fill=\"none\"/>"
                    + "<path d=\"M\(f(x0 - 3.5)) \(f(y1 - 10))L\(f(x0 + 3.5)) \(f(y1 - 10))L\(f(x0)) \(f(y1 - 5))Z\" fill=\"\(color)\"/>\n"
            }
            return
                "<path d=\"M\(f(x0)) \(f(y0))V\(f(y1))H\(f(x1 - 5))\" stroke=\"\(color)\" stroke-width=\"1.2\" fill=\"none\"/>"
                + "<path d=\"M\(f(x1 - 6)) \(f(y1 - 3.5))L\(f(x1 - 6)) \(f(y1 + 3.5))L\(f(x1)) \(f(y1))Z\" fill=\"\(color)\"/>\n"
        }

        // MARK: Stages and causes

        /// One row per media stage, in order; a stage that repeats (none do after the network) shares its row. The
        /// network stages are the hops' bars already, so they get rows only when there are no hops to show.
        private mutating func stageRows() {
            let spans = report.stages.filter { !$0.name.isNetwork || report.hops.isEmpty }
            var order: [Stage] = []
            for span in spans where !order.contains(span.name) { order.append(span.name) }
            for stage in order {
                let top = y
                let mine = spans.filter { $0.name == stage }
                labels += "<text x=\"\(Self.labelX)\" y=\"\(f(top + 11))\">\(stage.rawValue)</text>\n"
                for span in mine {
                    bar(
                        span.startMs,
                        span.endMs,
                        y: top + 2,
                        height: 12,
                        color: Self.stageColor,
                        title:
                            "\(stage.rawValue) \(ReportPage.ms(span.durationMs)) ms, \(span.packets) packets, \(Self.bytes(span.bytes))"
                    )
                }
                let duration = mine.reduce(0) { $0 + $1.durationMs }
                let packets = mine.reduce(0) { $0 + $1.packets }
                let bytes = mine.reduce(0) { $0 + $1.bytes }
                var text = "\(ReportPage.ms(duration)) ms"
                if packets > 0 || bytes > 0 {
                    text += " · \(packets) packet\(packets == 1 ? "" : "s"), \(Self.bytes(bytes))"
                }
                let from = mine.map { axis.x($0.startMs) }.min() ?? Self.plotStart
                let to = (mine.map { axis.x($0.endMs) }.max() ?? Self.plotStart) + Self.minimumBar
                let notesBottom = place(
                    [.init(text: text)],
                    from: from,
                    to: to,
                    top: top,
                    below: top + Self.laneHeight,
                    inside: mine.count == 1 ? Self.stageColor : nil
                )
                y = Swift.max(top + Self.laneHeight, notesBottom) + 1
            }
            if order.isEmpty {
                labels +=
                    "<text x=\"\(Self.labelX)\" y=\"\(f(y + 11))\" fill=\"\(Self.mutedColor)\">no media stage reached</text>\n"
                y += Self.laneHeight
            }
        }

        /// The causes band: the spans tile the open, each in its cause's colour, named where it is wide enough.
        private mutating func causesBand() {
            let top = y
            labels += "<text x=\"\(Self.labelX)\" y=\"\(f(top + 13))\" font-weight=\"600\">causes</text>\n"
            guard let causes = report.causes, !causes.spans.isEmpty else {
                labels +=
                    "<text x=\"\(f(Self.plotStart))\" y=\"\(f(top + 13))\" fill=\"\(Self.mutedColor)\">not computed for this open</text>\n"
                y = top + 20
                return
            }
            for span in causes.spans {
                let color = ReportPage.color(of: span.cause)
                let stages = span.stages.map(\.rawValue).joined(separator: ", ")
                let title =
                    "\(span.cause.rawValue) \(ReportPage.ms(span.durationMs)) ms"
                    + (span.hop.map { ", hop \($0 + 1)" } ?? "") + (stages.isEmpty ? "" : ", in \(stages)")
                bar(span.startMs, span.endMs, y: top + 2, height: 16, color: color, title: title)
                let width = axis.x(span.endMs) - axis.x(span.startMs)
                let full = "\(span.cause.rawValue) \(ReportPage.ms(span.durationMs))"
                let short = ReportPage.ms(span.durationMs)
                if let text = [full, short].first(where: { Self.textWidth($0) + 8 <= width }) {
                    labels +=
                        "<text x=\"\(f(axis.x(span.startMs) + 4))\" y=\"\(f(top + 14))\" fill=\"\(Self.contrastingText(on: color))\">\(escape(text))</text>\n"
                }
            }
            y = top + 22
        }

        private mutating func separator() {
            rows +=
                "<line x1=\"\(Self.labelX)\" y1=\"\(f(y + 2))\" x2=\"\(f(Self.plotEnd))\" y2=\"\(f(y + 2))\" stroke=\"#D1D5DB\" stroke-dasharray=\"1 3\"/>\n"
            y += 6
        }

        // MARK: Drawing helpers

        /// A bar from `start` to `end` (nil: still running when the report was made, drawn faded to the axis' end).
        private mutating func bar(
            _ start: Double,
            _ end: Double?,
            y top: Double,
            height: Double = barHeight,
            color: String,
            title: String
        ) {
            let left = axis.x(start)
            let width = Swift.max(axis.x(end ?? axis.endMs) - left, Self.minimumBar)
            rows +=
                "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(width))\" height=\"\(f(height))\" fill=\"\(color)\""
                + (end == nil ? " fill-opacity=\"0.45\"" : "") + "><title>\(escape(title))</title></rect>\n"
        }

        /// Notes beside the bars spanning [from, to]: right of them if the room there takes the longest note, else
        /// left, else (a single short line, when the bar has a colour `inside`) inside the bar, else under the bars
        /// (from `below`) across the plot; wrapped to the room they get. Returns the bottom of the last line.
        private mutating func place(
            _ notes: [Note],
            from: Double,
            to: Double,
            top: Double,
            below: Double,
            inside: String? = nil
        ) -> Double {
            guard !notes.isEmpty else { return top }
            let total = Self.textWidth(notes.map(\.text).joined(separator: " · "))
            let needed =
                Swift.min(Swift.max(notes.map { Self.textWidth($0.text) }.max() ?? 0, Self.minimumNoteRoom), total) + 4
            let rightRoom = Self.width - 6 - (to + 6)
            let leftRoom = from - 6 - Self.plotStart
            if let inside, rightRoom < needed, leftRoom < needed, total + 8 <= to - from {
                labels +=
                    "<text x=\"\(f(from + 4))\" y=\"\(f(top + 12))\" fill=\"\(Self.contrastingText(on: inside))\">"
                    + escape(notes.map(\.text).joined(separator: " · ")) + "</text>\n"
                return top
            }
            let (x, anchor, room, start): (Double, String, Double, Double) =
                if rightRoom >= needed { (to + 6, "start", rightRoom, top) } else if leftRoom >= needed {
                    (from - 6, "end", leftRoom, top)
                } else { (Self.plotStart, "start", Self.width - 6 - Self.plotStart, below) }
            let lines = Self.wrap(notes, characters: Int(room / Self.characterWidth))
            for (index, line) in lines.enumerated() {
                labels +=
                    "<text x=\"\(f(x))\" y=\"\(f(start + 11 + Double(index) * Self.lineHeight))\""
                    + (anchor == "end" ? " text-anchor=\"end\"" : "")
                    + " \(Self.halo)>"
                labels += line.map { note in
                    note.color.map { "<tspan fill=\"\($0)\">\(escape(note.text))</tspan>" } ?? escape(note.text)
                }.joined(separator: "<tspan fill=\"\(Self.mutedColor)\"> · </tspan>")
                labels += "</text>\n"
            }
            return start + Double(lines.count) * Self.lineHeight + 2
        }

        /// Notes joined by " · " into lines of at most `characters`; a note longer than a line is cut with "…".
        private static func wrap(_ notes: [Note], characters: Int) -> [[Note]] {
            var lines: [[Note]] = [[]]
            var length = 0
            for var note in notes {
                note.text = truncated(note.text, characters)
                let added = (lines[lines.count - 1].isEmpty ? 0 : 3) + note.text.count
                if !lines[lines.count - 1].isEmpty && length + added > characters {
                    lines.append([note])
                    length = note.text.count
                } else {
                    lines[lines.count - 1].append(note)
                    length += added
                }
            }
            return lines
        }

        static func textWidth(_ text: String) -> Double { Double(text.count) * characterWidth }

        static func truncated(_ text: String, _ characters: Int) -> String {
            text.count <= characters ? text : String(text.prefix(Swift.max(characters - 1, 1))) + "…"
        }

        /// `host:port` of a URL, without user information (reports redact it anyway).
        static func authority(of url: String?) -> String? {
            guard let url, let scheme = url.range(of: "://") else { return nil }
            let rest = url[scheme.upperBound...]
            let authority = rest.prefix { !"/?#".contains($0) }
            let host = authority.split(separator: "@").last.map(String.init) ?? ""
            return host.isEmpty ? nil : host
        }

        /// Everything after the authority: path and query (the file name for a local input).
        static func path(of url: String?) -> String {
            guard let url else { return "" }
            guard let scheme = url.range(of: "://") else { return url }
            let rest = url[scheme.upperBound...]
            return String(rest.drop { !"/?#".contains($0) })
        }

        static func bytes(_ count: Int64) -> String {
            count >= 1_000_000
                ? String(format: "%.2f MB", Double(count) / 1e6)
                : count >= 1000 ? String(format: "%.1f kB", Double(count) / 1e3) : "\(count) B"
        }

        /// Black or white, whichever reads better on `hex` (relative luminance, sRGB approximated by squares).
        static func contrastingText(on hex: String) -> String {
            let value = Int(hex.dropFirst(), radix: 16) ?? 0
            let (r, g, b) = (
                Double(value >> 16 & 0xFF) / 255, Double(value >> 8 & 0xFF) / 255, Double(value & 0xFF) / 255
            )
            return 0.2126 * r * r + 0.7152 * g * g + 0.0722 * b * b > 0.28 ? "#111827" : "#FFFFFF"
        }

        private func escape(_ text: String) -> String { ReportPage.escape(text) }
    }
}

/// A coordinate with at most two decimals: a page of many bars stays small.
private func f(_ value: Double) -> String {
    let rounded = (value * 100).rounded() / 100
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
}
