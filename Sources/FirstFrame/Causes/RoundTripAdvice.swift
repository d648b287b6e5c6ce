import Foundation

/// Advice in round trips, from the open's ``FirstFrameReport/Floor``: on a real link a first frame is counted in
/// round trips and the keyframe's flights, so the advice says how many the open spent, how many its protocol
/// needed, and where the rest went — scaled by the RTT the kernel measured, so one round trip to a distant edge is
/// never "a far or loaded edge" and a server answering in one round trip is never "a cold stream".
package enum RoundTripAdvice {
    /// A step is over its need when it took this many round trips more (RTT jitter and the server's own
    /// microseconds stay under it).
    package static let slackRoundTrips = 0.5
    /// A connect this much longer than its round trips retransmitted its SYN (Linux's first SYN retransmission
    /// is after 1 s).
    package static let synRetransmissionMs = 900.0

    /// Whether the floor explains a cause's time as round trips the protocol needed: the old per-cause advice
    /// ("a far or loaded edge", "a stream cold at this edge") is then wrong and is left out.
    package static func explainedByRoundTrips(
        _ floor: FirstFrameReport.Floor,
        kinds: Set<FirstFrameReport.Floor.Step.Kind>
    ) -> Bool {
        floor.steps.filter { kinds.contains($0.kind) }.allSatisfy {
            $0.spent <= Double($0.needed) + slackRoundTrips
        }
    }

    package static func advice(for report: FirstFrameReport) -> [FirstFrameReport.Advice] {
        guard let floor = report.floor else { return [] }
        var advice: [FirstFrameReport.Advice] = []
        let rtt = floor.rttMs
        // Losses first: each costs a timer, not a round trip.
        let lostSYNs = floor.steps.filter {
            $0.kind == .tcp && $0.ms - Double(max(1, $0.needed)) * rtt > synRetransmissionMs
        }
        let slowLookups = floor.steps.filter { $0.kind == .dns && $0.ms - rtt > synRetransmissionMs }
        if !lostSYNs.isEmpty || !slowLookups.isEmpty {
            let ms = (lostSYNs + slowLookups).reduce(0) { $0 + $1.ms - rtt }
            var what: [String] = []
            if !lostSYNs.isEmpty { what.append("\(lostSYNs.count) SYN\(lostSYNs.count == 1 ? "" : "s") retransmitted") }
            if !slowLookups.isEmpty {
                what.append("\(slowLookups.count) DNS quer\(slowLookups.count == 1 ? "y" : "ies") retried")
            }
            advice.append(
                .init(
                    cause: .networkSetup,
                    remedy: .lossRecovery,
                    ms: ms,
                    message: String(
                        format:
                            "%.0f ms waiting for lost packets (%@) on a %.0f ms path: hedge connects and lookups after a few round trips",
                        ms,
                        what.joined(separator: ", "),
                        rtt
                    )
                )
            )
        }
        let extra = floor.excessRoundTrips
        if extra >= 1 {
            let reasons = excessReasons(floor, excluding: Set(lostSYNs.map(\.hop)))
            if !reasons.isEmpty {
                advice.append(
                    .init(
                        cause: .networkSetup,
                        remedy: .fewerRoundTrips,
                        ms: extra * rtt,
                        message: String(
                            format: "%.1f round trips of %.0f ms where %d are needed (+%.0f ms): %@",
                            floor.roundTripsSpent,
                            rtt,
                            floor.roundTripsNeeded,
                            extra * rtt,
                            reasons.joined(separator: "; ")
                        )
                    )
                )
            }
        }
        return advice
    }

    /// Where the round trips beyond the need went, biggest first.
    private static func excessReasons(_ floor: FirstFrameReport.Floor, excluding lossHops: Set<Int>) -> [String] {
        var reasons: [(ms: Double, text: String)] = []
        let rtt = floor.rttMs
        // A warm connection handed over (``TuningKnobs/spareConnections``) costs nothing: only handshakes count.
        let extraConnects = floor.steps.filter { $0.kind == .tcp && $0.needed == 0 && $0.spent >= slackRoundTrips }
        if !extraConnects.isEmpty {
            let ms = extraConnects.reduce(0) { $0 + $1.ms }
            reasons.append(
                (
                    ms,
                    String(
                        format:
                            "%d more connection%@ to an address already connected (%.0f ms): keep-alive, or spareConnections",
                        extraConnects.count,
                        extraConnects.count == 1 ? "" : "s",
                        ms
                    )
                )
            )
        }
        let extraRequests = floor.steps.filter { $0.kind == .request && $0.needed == 0 }
        if !extraRequests.isEmpty {
            let ms = extraRequests.reduce(0) { $0 + $1.ms }
            reasons.append(
                (
                    ms,
                    String(
                        format: "%d fetch%@ the first picture did not need (%.0f ms): an HLS segment after the first",
                        extraRequests.count,
                        extraRequests.count == 1 ? "" : "es",
                        ms
                    )
                )
            )
        }
        let rtmpKinds: Set<FirstFrameReport.Floor.Step.Kind> = [
            .rtmpHandshake, .rtmpConnect, .rtmpCreateStream, .rtmpPlay,
        ]
        let slowRTMP = floor.steps.filter {
            rtmpKinds.contains($0.kind) && $0.spent > Double($0.needed) + slackRoundTrips
        }
        if !slowRTMP.isEmpty {
            // RTMP needs its handshake and three commands where HTTP-FLV needs one request: 3 round trips fewer,
            // and none of what this server's exchange spent over its need.
            let over = slowRTMP.reduce(0) { $0 + $1.spent - Double($1.needed) }
            let names = slowRTMP.map {
                String(
                    format: "%@ %.1f",
                    $0.kind.rawValue.replacingOccurrences(of: "rtmp", with: "").lowercased(),
                    $0.spent
                )
            }
            reasons.append(
                (
                    over * rtt,
                    String(
                        format:
                            "RTMP's exchange took %.1f round trips more than its 4 (%@): the server's small writes wait for ACKs (its Nagle); HTTP-FLV from the same edge needs one request, %.1f round trips fewer (~%.0f ms)",
                        over,
                        names.joined(separator: ", "),
                        3 + over,
                        (3 + over) * rtt
                    )
                )
            )
        }
        let slowOther = floor.steps.filter {
            [.dns, .tls, .request].contains($0.kind) && $0.needed > 0 && $0.spent > Double($0.needed) + slackRoundTrips
                && !lossHops.contains($0.hop)
        }
        for step in slowOther {
            let over = step.spent - Double(step.needed)
            let what =
                switch step.kind {
                case .dns: "the lookup took %.1f round trips (the resolver's own upstream)"
                case .tls: "the TLS handshake took %.1f round trips"
                default:
                    "the server answered in %.1f round trips (its own time: a stream cold at this edge, a slow origin)"
                }
            reasons.append((over * rtt, String(format: what, step.spent)))
        }
        return reasons.sorted { $0.ms > $1.ms }.map(\.text)
    }

    /// What slowed the first keyframe's transfer, from its flights and the connection's losses.
    package static func keyframeTransfer(_ floor: FirstFrameReport.Floor, ms: Double) -> FirstFrameReport.Advice {
        if floor.outOfOrderPackets > 0 {
            return .init(
                cause: .keyframeTransfer,
                remedy: .lossRecovery,
                ms: ms,
                message: String(
                    format:
                        "the first keyframe took %.0f ms: %d server packet%@ arrived after a hole (loss on the way down) and waited for the retransmission",
                    ms,
                    floor.outOfOrderPackets,
                    floor.outOfOrderPackets == 1 ? "" : "s"
                )
            )
        }
        let kilobytes = Double(floor.keyframeBytes ?? 0) / 1000
        if let flights = floor.keyframeFlights, flights > 1, floor.transferMs >= ms * 0.5 {
            return .init(
                cause: .keyframeTransfer,
                remedy: .fastStart,
                ms: ms,
                message: String(
                    format:
                        "the first keyframe took %.0f ms: slow start — %.1f KB need %d flights of the server's congestion window, %d round trip%@ more; a smaller first keyframe, or an edge with a larger initial window",
                    ms,
                    kilobytes,
                    flights,
                    flights - 1,
                    flights == 2 ? "" : "s"
                )
            )
        }
        return .init(
            cause: .keyframeTransfer,
            remedy: .fastStart,
            ms: ms,
            message: floor.deliveryRateKbit.map {
                String(
                    format:
                        "the first keyframe took %.0f ms: bandwidth — %.1f KB at %.0f kbit/s; a lower first rendition or a CDN's fast start",
                    ms,
                    kilobytes,
                    $0
                )
            }
                ?? String(
                    format:
                        "the first keyframe took %.0f ms to arrive once it started: bandwidth; a lower first rendition or a CDN's fast start",
                    ms
                )
        )
    }
}
