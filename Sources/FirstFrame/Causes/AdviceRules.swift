import Foundation

/// Turns an open's causes into advice: each cause above its threshold gives one line naming what removes it.
/// The thresholds are where a person would act on a live join; below them the time is noise on any network.
package enum AdviceRules {
    /// Milliseconds a cause must exceed before it is worth a line.
    package static let thresholdsMs: [Cause: Double] = [
        .networkSetup: 50, .serverResponse: 100, .protocolExchange: 50, .keyframeWait: 100,
        .keyframeTransfer: 100, .clientWait: 30, .decode: 50,
    ]
    /// A lookup slower than this, not answered from a cache, is worth prefetching.
    package static let slowLookupMs = 20.0
    /// A path whose round trip is this long makes a nearer edge worth a line.
    package static let farEdgeRTTMs = 100.0

    /// Whether the server's response time is its round trips (the floor says each request step took the round
    /// trips it needed, RTMP's first answer and `play`'s within two): then it is not "a stream cold at this edge".
    private static func serverAnsweredInRoundTrips(_ report: FirstFrameReport, _ ms: Double) -> Bool {
        guard let floor = report.floor else { return false }
        let requests = floor.steps.filter { $0.kind == .request && $0.needed > 0 }
        if !requests.isEmpty {
            return requests.allSatisfy { $0.spent <= Double($0.needed) + RoundTripAdvice.slackRoundTrips }
        }
        return ms <= floor.rttMs * (2 + RoundTripAdvice.slackRoundTrips)
    }

    package static func advice(for report: FirstFrameReport) -> [FirstFrameReport.Advice] {
        guard let causes = report.causes else { return [] }
        var advice: [FirstFrameReport.Advice] = []
        func over(_ cause: Cause) -> Double? {
            let total = causes[cause]
            return total > thresholdsMs[cause, default: 0] ? total : nil
        }
        if over(.networkSetup) != nil { advice += networkAdvice(report) }
        advice += RoundTripAdvice.advice(for: report)
        if let ms = over(.serverResponse), !serverAnsweredInRoundTrips(report, ms) {
            let redirects = report.hops.filter { $0.redirectTo != nil }.count
            if redirects > 0 {
                advice.append(
                    .init(
                        cause: .serverResponse,
                        remedy: .avoidRedirects,
                        ms: ms,
                        message: String(
                            format: "%.0f ms waiting for servers, over %d redirect%@: open the final URL",
                            ms,
                            redirects,
                            redirects == 1 ? "" : "s"
                        )
                    )
                )
            } else if !hlsResponsesWereRoundTrips(report, causes) {
                advice.append(
                    .init(
                        cause: .serverResponse,
                        remedy: .warmEdge,
                        ms: ms,
                        message: String(
                            format:
                                "the server took %.0f ms to send the first media byte: a stream cold at this edge; pre-warm it or try another edge",
                            ms
                        )
                    )
                )
            }
        }
        if let ms = over(.protocolExchange) {
            // The stalls inside the command phases (those after `play`, waiting for media, are the stream's pace),
            // counted where they lie in the exchange's own span: never more than the exchange.
            let exchange = causes.spans.filter { $0.cause == .protocolExchange }
            func inExchange(_ stalls: [FirstFrameReport.RTMPTimeline.Stall]) -> Double {
                stalls.reduce(0) { total, stall in
                    exchange.reduce(total) { $0 + max(0, min(stall.endMs, $1.endMs) - max(stall.startMs, $1.startMs)) }
                }
            }
            let phases = report.hops.compactMap(\.rtmp).flatMap(\.phases)
            let stalls = inExchange(phases.flatMap(\.stalls))
            let heldBack = phases.flatMap(\.heldBack)
            // tcp_nodelay takes the client's Nagle waits away, quickAck the server's (its small writes waiting for
            // this client's delayed ACK); only those not on yet are worth a try. With both on, what is left is
            // round trips and the server's own time, which only a protocol with fewer of them (HTTP-FLV) removes.
            let untried = [("tcp_nodelay", report.knobs.tcpNoDelay), ("quickAck", report.knobs.quickAck)]
                .filter { !$0.1 }.map(\.0)
            advice.append(
                .init(
                    cause: .protocolExchange,
                    remedy: .rtmpExchange,
                    ms: ms,
                    message: untried.isEmpty
                        ? (heldBack.isEmpty
                            ? String(
                                format:
                                    "RTMP's command exchange took %.0f ms (%.0f ms of it in stalls) with tcp_nodelay and quickAck on: round trips to the server; HTTP-FLV from the same server has fewer",
                                ms,
                                stalls
                            )
                            : String(
                                format:
                                    "RTMP's command exchange took %.0f ms with tcp_nodelay and quickAck on: the protocol's round trips, and %d more (%.0f ms) where the server sent its answer in pieces, the rest held under Nagle until this client's ACK (a server without TCP_NODELAY, as nginx-rtmp: server Nagle +%d round trip%@, no client setting removes them); HTTP-FLV from the same server has fewer",
                                ms,
                                heldBack.count,
                                inExchange(heldBack),
                                heldBack.count,
                                heldBack.count == 1 ? "" : "s"
                            ))
                        : String(
                            format:
                                "RTMP's command exchange took %.0f ms (%.0f ms of it in stalls): try %@, or HTTP-FLV from the same server",
                            ms,
                            stalls,
                            untried.map { "\($0)=true" }.joined(separator: " ")
                        ),
                    knobs: untried.map { "\($0)=true" },
                    sweep: untried.first.map { sweep(report, "\($0)=false,true") }
                )
            )
        }
        // A keyframe arrival known only from the demuxer's read is an upper bound: it may be the client's own
        // reading, and the edge is not blamed for it.
        if let ms = over(.keyframeWait), causes.keyframeArrival == .network {
            advice.append(
                .init(
                    cause: .keyframeWait,
                    remedy: .gopCache,
                    ms: ms,
                    message: String(
                        format:
                            "waited %.0f ms for the edge's next keyframe: the edge has no GOP cache (turn it on, or a CDN that sends the cached GOP at once); a shorter GOP at the encoder halves it on average",
                        ms
                    )
                )
            )
        }
        if let ms = over(.keyframeTransfer), let floor = report.floor {
            advice.append(RoundTripAdvice.keyframeTransfer(floor, ms: ms))
        } else if let ms = over(.keyframeTransfer) {
            advice.append(
                .init(
                    cause: .keyframeTransfer,
                    remedy: .fastStart,
                    ms: ms,
                    message: String(
                        format:
                            "the first keyframe took %.0f ms to arrive once it started: bandwidth; a lower first rendition or a CDN's fast start",
                        ms
                    )
                )
            )
        }
        if let ms = over(.clientWait) { advice.append(clientWaitAdvice(report, causes, ms)) }
        if let ms = over(.decode) { advice.append(decodeAdvice(report, ms)) }
        return advice
    }

    /// Why the decoder took `ms`: pictures held back (B-frame reorder, frame threads), which decoding the keyframe
    /// alone removes, or the decode itself.
    private static func decodeAdvice(_ report: FirstFrameReport, _ ms: Double) -> FirstFrameReport.Advice {
        guard let decode = report.firstPictureDecode, !decode.keyframeAlone, decode.packetsDecoded > 1 else {
            return .init(
                cause: .decode,
                remedy: .decoder,
                ms: ms,
                message: String(
                    format:
                        "decoding the first keyframe took %.0f ms: a large picture, a slow CPU or a decoder opened late",
                    ms
                )
            )
        }
        var holders: [String] = []
        if decode.reorderDepth > 0 {
            holders.append("B-frame reorder (\(decode.reorderDepth) pictures; the stream's encoder sends B-frames)")
        }
        if decode.threads > 1 { holders.append("\(decode.threads) frame threads") }
        let why = holders.isEmpty ? "the decoder's delay" : holders.joined(separator: " and ")
        if report.knobs.decodeKeyframeAlone {
            // On, and still in order: the keyframe gave no picture by itself.
            return .init(
                cause: .decode,
                remedy: .decoder,
                ms: ms,
                message: String(
                    format:
                        "the decoder held the first picture until it had %d packets (%.0f ms): %@; the keyframe gave no picture decoded alone (decodeKeyframeAlone is on), so it was decoded in order",
                    decode.packetsDecoded,
                    ms,
                    why
                )
            )
        }
        return .init(
            cause: .decode,
            remedy: .decoder,
            ms: ms,
            message: String(
                format:
                    "the decoder held the first picture until it had %d packets (%.0f ms): %@; decodeKeyframeAlone=true shows the keyframe one decode after it arrives",
                decode.packetsDecoded,
                ms,
                why
            ),
            knobs: ["decodeKeyframeAlone=true"],
            sweep: sweep(report, "decodeKeyframeAlone=false,true")
        )
    }

    private static func networkAdvice(_ report: FirstFrameReport) -> [FirstFrameReport.Advice] {
        var advice: [FirstFrameReport.Advice] = []
        let lookups = report.hops.compactMap(\.dns)
        let coldLookups = lookups.filter { [.system, .resolver].contains($0.source) }
        let lookupMs = coldLookups.reduce(0) { $0 + (($1.endMs ?? $1.startMs) - $1.startMs) }
        if lookupMs > slowLookupMs {
            let hosts = Set(coldLookups.map(\.host)).sorted().joined(separator: ", ")
            advice.append(
                .init(
                    cause: .networkSetup,
                    remedy: .dnsPrefetch,
                    ms: lookupMs,
                    message: String(
                        format: "%.0f ms in cold DNS lookups (%@): prefetch the hosts into the DNS cache at start-up",
                        lookupMs,
                        hosts
                    ),
                    knobs: ["prefetchHosts=" + hosts.replacingOccurrences(of: ", ", with: ",")]
                )
            )
            if !report.knobs.ipv4Only {
                advice.append(
                    .init(
                        cause: .networkSetup,
                        remedy: .ipv4Only,
                        ms: lookupMs,
                        message:
                            "lookups asked for A and AAAA: ipv4Only=true asks for A only, with nothing to wait for on hosts without IPv6",
                        knobs: ["ipv4Only=true"],
                        sweep: sweep(report, "ipv4Only=false,true")
                    )
                )
            }
        }
        let failed = report.hops.flatMap(\.connects).filter { $0.outcome != .connected }
        let connectMs = report.hops.reduce(0.0) { total, hop in
            guard let first = hop.connects.map(\.startMs).min(),
                let end = hop.connects.first(where: { $0.outcome == .connected })?.endMs
            else { return total }
            return total + end - first
        }
        if let floor = report.floor, failed.isEmpty {
            // Connects that took their round trip are the path, not the edge: only a nearer edge (a shorter RTT)
            // helps, and only on a long path. Extra connections and lost SYNs are round-trip advice.
            if floor.rttMs >= farEdgeRTTMs {
                advice.append(
                    .init(
                        cause: .networkSetup,
                        remedy: .anotherEdge,
                        ms: floor.rttMs * Double(floor.roundTripsNeeded),
                        message: String(
                            format:
                                "every round trip costs %.0f ms on this path and the open needs %d: a nearer edge shortens each",
                            floor.rttMs,
                            floor.roundTripsNeeded
                        )
                    )
                )
            }
        } else if !failed.isEmpty || connectMs > thresholdsMs[.networkSetup]! {
            let addresses = Set(failed.map { "\($0.address):\($0.port)" }).sorted().joined(separator: ", ")
            advice.append(
                .init(
                    cause: .networkSetup,
                    remedy: .anotherEdge,
                    ms: connectMs,
                    message: failed.isEmpty
                        ? String(format: "%.0f ms connecting: a far or loaded edge; choose a nearer one", connectMs)
                        : String(
                            format:
                                "%.0f ms connecting, %d failed attempt%@ (%@): drop that edge (a DNS cache tries failed addresses last)",
                            connectMs,
                            failed.count,
                            failed.count == 1 ? "" : "s",
                            addresses
                        )
                )
            )
        }
        let tlsMs = report.hops.compactMap(\.tls).reduce(0) { $0 + (($1.endMs ?? $1.startMs) - $1.startMs) }
        if tlsMs > thresholdsMs[.networkSetup]! {
            advice.append(
                .init(
                    cause: .networkSetup,
                    remedy: .warmConnection,
                    ms: tlsMs,
                    message: String(
                        format:
                            "%.0f ms in TLS handshakes: keep connections alive, resume sessions, or play plain HTTP where the stream is not secret",
                        tlsMs
                    )
                )
            )
        }
        return advice
    }

    /// Client wait names the knob for the stage it sat in.
    private static func clientWaitAdvice(
        _ report: FirstFrameReport,
        _ causes: FirstFrameReport.CauseBreakdown,
        _ ms: Double
    ) -> FirstFrameReport.Advice {
        var byStage: [Stage: Double] = [:]
        for span in causes.spans where span.cause == .clientWait {
            for stage in report.stages where span.stages.contains(stage.name) {
                byStage[stage.name, default: 0] += max(
                    0,
                    min(stage.endMs, span.endMs) - max(stage.startMs, span.startMs)
                )
            }
        }
        let stage = byStage.max { $0.value < $1.value }?.key ?? .streamInfo
        let knobs: [String]
        let why: String
        switch stage {
        case _ where isHLS(report):
            // FFmpeg's hls demuxer: the next segment fetched before this one's body is read (http_multiple), and
            // the segment demuxer holding packets back while it probes a codec (its probesize). skipStreamInfo does
            // not apply to HLS.
            knobs = ["http_multiple=0", "hlsSegmentProbesize=4096", "fpsprobesize=0"]
            why =
                "FFmpeg's HLS demuxer reading on (the next segment, or more of this one) before handing the keyframe over"
        case .streamInfo:
            knobs = report.knobs.fpsprobesize != 0 ? ["fpsprobesize=0"] : ["skipStreamInfo=true"]
            why =
                report.knobs.fpsprobesize != 0
                ? "avformat_find_stream_info counting frames to estimate the frame rate"
                : "avformat_find_stream_info reading on"
        case .buffering:
            knobs = ["minVideoFrames=1", "bufferCheckIntervalMs=0"]
            why = String(
                format: "the buffering thresholds (%d video frames, checked every %d ms)",
                report.knobs.minVideoFrames,
                report.knobs.bufferCheckIntervalMs
            )
        case .formatProbe:
            knobs = ["format=auto"]
            why = "probing the container"
        default:
            knobs = []
            why = "reading past the keyframe"
        }
        // Only what is not already set: a knob at the suggested value cannot take the time away.
        let untried = knobs.filter { setting in
            let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
            return currentValue(report, parts[0]) != parts[1]
        }
        let first = untried.first.map { $0.split(separator: "=", maxSplits: 1).map(String.init) }
        let sweepArgument = first.map { parts in "\(parts[0])=\(currentValue(report, parts[0])),\(parts[1])" }
        return .init(
            cause: .clientWait,
            remedy: .tuneKnobs,
            ms: ms,
            message: untried.isEmpty
                ? String(
                    format:
                        "the keyframe had arrived; %.0f ms more went to %@ (in %@), with its knobs already at their fastest",
                    ms,
                    why,
                    stage.rawValue
                )
                : String(
                    format: "the keyframe had arrived; %.0f ms more went to %@ (in %@): %@",
                    ms,
                    why,
                    stage.rawValue,
                    untried.joined(separator: " ")
                ),
            knobs: untried,
            sweep: sweepArgument.map { sweep(report, $0) }
        )
    }

    /// Whether the open played HLS: its trace read a playlist and fetched a segment.
    private static func isHLS(_ report: FirstFrameReport) -> Bool {
        report.hops.contains { $0.role == .segment }
    }

    /// HLS: whether every playlist and segment response before the first picture took about one round trip (at
    /// most 1.5 of the open's fastest TCP connect, plus 10 ms): requests the protocol makes, not a stream or segment
    /// cold at the edge (which would answer slower than a connect).
    private static func hlsResponsesWereRoundTrips(
        _ report: FirstFrameReport,
        _ causes: FirstFrameReport.CauseBreakdown
    ) -> Bool {
        guard isHLS(report),
            let roundTrip = report.hops.flatMap(\.connects).filter({ $0.outcome == .connected })
                .compactMap({ connect in connect.endMs.map { $0 - connect.startMs } }).min()
        else { return false }
        return causes.spans.filter { $0.cause == .serverResponse }.allSatisfy {
            $0.durationMs <= roundTrip * 1.5 + 10
        }
    }

    private static func currentValue(_ report: FirstFrameReport, _ knob: String) -> String {
        report.knobs.textValues.first { $0.name == knob }?.value ?? TuningKnobs().textValues.first { $0.name == knob }?
            .value ?? "default"
    }

    /// The sweep command, the URL quoted for a POSIX shell; the preset the open started from (its own knobs
    /// beyond it are not repeated, so the command compares from the preset).
    private static func sweep(_ report: FirstFrameReport, _ axis: String) -> String {
        let url = "'" + report.url.replacingOccurrences(of: "'", with: "'\\''") + "'"
        let preset =
            report.preset.map { $0.hasSuffix("+") ? String($0.dropLast()) : $0 }.map { " --preset \($0)" } ?? ""
        return "firstframe sweep \(url)\(preset) --set \(axis)"
    }
}
