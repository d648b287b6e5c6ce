import FirstFrame
import FirstFrameNetwork
import Foundation

/// `firstframe bench rtmp <url>`: RTMP's command exchange with and without the client's Nagle and delayed-ACK
/// waits, against a real RTMP server on loopback (nginx-rtmp). Stock FFmpeg, then `tcp_nodelay`, then `quickAck`,
/// then the `instant` preset, interleaved round by round so that every variant meets the same server and machine
/// state; the figures are quoted as ratios to stock measured in the same run.
package enum RTMPBenchmark {
    /// One knob set the bench compares.
    package struct Variant: Sendable {
        package var name: String
        package var presetName: String
        package var knobs: TuningKnobs

        package static var all: [Variant] {
            var noDelay = Preset.ffmpeg.knobs
            noDelay.tcpNoDelay = true
            var quickAckOnly = Preset.ffmpeg.knobs
            quickAckOnly.quickAck = true
            var both = noDelay
            both.quickAck = true
            return [
                Variant(name: "ffmpeg", presetName: "ffmpeg", knobs: Preset.ffmpeg.knobs),
                Variant(name: "ffmpeg+tcp_nodelay", presetName: "ffmpeg+", knobs: noDelay),
                Variant(name: "ffmpeg+quickAck", presetName: "ffmpeg+", knobs: quickAckOnly),
                Variant(name: "ffmpeg+tcp_nodelay+quickAck", presetName: "ffmpeg+", knobs: both),
                Variant(name: "instant", presetName: "instant", knobs: Preset.instant.knobs),
            ]
        }
    }

    /// What one open's report says about its RTMP exchange, in milliseconds from the end of its connect.
    package struct Sample: Sendable, Codable {
        package var firstMediaMs: Double
        package var playStartMs: Double
        /// Stalls inside the phases (handshake to Play.Start): the exchange's own, not the wait for media after it.
        package var stalls: Int
        package var stallMs: Double
        /// `avformat_open_input` returned and the first picture, from the open's request.
        package var formatProbeEndMs: Double
        package var firstPictureMs: Double
        /// Each stall: its phase, length, whose move it was and what came before it.
        package var stallList: [NamedStall]

        package struct NamedStall: Sendable, Codable {
            package var phase: String
            package var ms: Double
            package var awaiting: String
            package var after: String
        }

        /// Nil when the report has no RTMP hop read as far as its first media message.
        package init?(_ report: FirstFrameReport) {
            guard let hop = report.hops.first(where: { $0.rtmp != nil }), let rtmp = hop.rtmp,
                let connected = hop.connects.first(where: { $0.outcome == .connected })?.endMs,
                let firstMedia = rtmp.firstMediaByteMs,
                let playEnd = rtmp.phases.first(where: { $0.name == "play" })?.endMs,
                let probed = report.stages.first(where: { $0.name == .formatProbe })?.endMs,
                let picture = report.summary.firstVideoFrameMs
            else { return nil }
            firstMediaMs = firstMedia - connected
            playStartMs = playEnd - connected
            stallList = rtmp.phases.flatMap { phase in
                phase.stalls.map {
                    NamedStall(phase: phase.name, ms: $0.durationMs, awaiting: $0.awaiting, after: $0.after)
                }
            }
            stalls = stallList.count
            stallMs = stallList.reduce(0) { $0 + $1.ms }
            formatProbeEndMs = probed
            firstPictureMs = picture
        }
    }

    /// One variant's figures over the run, with ratios of its p50s to stock's.
    package struct Row: Sendable, Codable {
        package var variant: String
        package var samples: [Sample]
        package var failures: Int
        package var firstMedia: ReportAggregate.Distribution?
        package var playStart: ReportAggregate.Distribution?
        package var stallMs: ReportAggregate.Distribution?
        package var formatProbeEnd: ReportAggregate.Distribution?
        package var firstPicture: ReportAggregate.Distribution?
        /// p50 over stock's p50: connect→first media message, connect→Play.Start, format probe end.
        package var firstMediaRatio: Double?
        package var playStartRatio: Double?
        package var formatProbeEndRatio: Double?
        /// Samples whose first media message came within 50 ms of the connect (the aim).
        package var within50Ms: Int
    }

    /// `repeats` rounds, each opening every variant once in turn; `progress` counts `repeats` × the variants.
    package static func run(url: String, repeats: Int, progress: some BenchmarkProgress) async throws -> [Row] {
        let variants = Variant.all
        let openers = try variants.map { try StreamOpener(knobs: $0.knobs, presetName: $0.presetName) }
        let (samples, failures) = await progress.step("opening") {
            var samples = Array(repeating: [Sample](), count: variants.count)
            var failures = Array(repeating: 0, count: variants.count)
            // Round by round, every variant in turn: a drift in the server or the machine reaches them all.
            for _ in 0..<repeats {
                for (index, opener) in openers.enumerated() {
                    if let sample = Sample(await opener.report(opening: url)) {
                        samples[index].append(sample)
                    } else {
                        failures[index] += 1
                    }
                    progress.advance(by: 1)
                }
            }
            return (samples, failures)
        }
        let stock = (
            firstMedia: ReportAggregate.Distribution(samples[0].map(\.firstMediaMs)),
            playStart: ReportAggregate.Distribution(samples[0].map(\.playStartMs)),
            formatProbe: ReportAggregate.Distribution(samples[0].map(\.formatProbeEndMs))
        )
        let rows = variants.indices.map { index in
            let values = samples[index]
            let firstMedia = ReportAggregate.Distribution(values.map(\.firstMediaMs))
            let playStart = ReportAggregate.Distribution(values.map(\.playStartMs))
            let formatProbe = ReportAggregate.Distribution(values.map(\.formatProbeEndMs))
            func ratio(_ value: ReportAggregate.Distribution?, _ base: ReportAggregate.Distribution?) -> Double? {
                guard let value, let base, base.p50 > 0 else { return nil }
                return value.p50 / base.p50
            }
            return Row(
                variant: variants[index].name,
                samples: values,
                failures: failures[index],
                firstMedia: firstMedia,
                playStart: playStart,
                stallMs: ReportAggregate.Distribution(values.map(\.stallMs)),
                formatProbeEnd: formatProbe,
                firstPicture: ReportAggregate.Distribution(values.map(\.firstPictureMs)),
                firstMediaRatio: ratio(firstMedia, stock.firstMedia),
                playStartRatio: ratio(playStart, stock.playStart),
                formatProbeEndRatio: ratio(formatProbe, stock.formatProbe),
                within50Ms: values.count { $0.firstMediaMs <= 50 }
            )
        }
        return rows
    }

    /// The rows as the command prints them, then what stalled, per variant.
    package static func table(_ rows: [Row], repeats: Int) -> String {
        func ms(_ value: Double?) -> String { value.map { String(format: "%7.1f", $0) } ?? "      -" }
        func ratio(_ value: Double?) -> String { value.map { String(format: "%6.2fx", $0) } ?? "      -" }
        var lines = [
            "RTMP open, \(repeats) rounds, variants interleaved; ms from the connect's end (exchange) or the open's request (open)",
            "variant                       first media msg      Play.Start        stalls (phases)     avformat_open_input   first picture   ≤50ms fail",
            "                               p50    p95  /stock   p50    p95  /stock  n p50   ms p50     p50    p95  /stock    p50    p95",
        ]
        for row in rows {
            let stallCounts = row.samples.map { Double($0.stalls) }
            lines.append(
                row.variant.padding(toLength: 28, withPad: " ", startingAt: 0)
                    + ms(row.firstMedia?.p50) + ms(row.firstMedia?.p95) + ratio(row.firstMediaRatio)
                    + ms(row.playStart?.p50) + ms(row.playStart?.p95) + ratio(row.playStartRatio)
                    + String(format: "  %3.0f", ReportAggregate.Distribution(stallCounts)?.p50 ?? .nan)
                    + ms(row.stallMs?.p50)
                    + "  " + ms(row.formatProbeEnd?.p50) + ms(row.formatProbeEnd?.p95) + ratio(row.formatProbeEndRatio)
                    + ms(row.firstPicture?.p50) + ms(row.firstPicture?.p95)
                    + String(format: "  %2d/%-2d %3d", row.within50Ms, row.samples.count, row.failures)
            )
        }
        // What stalled, per variant: the stalls of every sample, counted by phase and what preceded them.
        lines.append(
            "stalls ≥ \(RTMPExchange.stallThreshold / 1_000_000) ms inside the phases, over all samples (phase, whose move, after):"
        )
        for row in rows {
            var counts: [String: (count: Int, ms: Double)] = [:]
            for stall in row.samples.flatMap(\.stallList) {
                let key = "\(stall.phase), \(stall.awaiting), \(stall.after)"
                counts[key, default: (0, 0)].count += 1
                counts[key, default: (0, 0)].ms += stall.ms
            }
            let listed = counts.sorted { $0.value.count > $1.value.count }.map { key, value in
                String(format: "%d× %@ (mean %.1f ms)", value.count, key, value.ms / Double(value.count))
            }
            lines.append("  \(row.variant): " + (listed.isEmpty ? "none" : listed.joined(separator: "; ")))
        }
        return lines.joined(separator: "\n")
    }
}
