import FirstFrameNetwork
import Foundation

extension FirstFrameReport.Hop {
    init(_ hop: NetworkHop, timeline: StageTimeline) {
        let ms = timeline.milliseconds
        url = hop.url.map(InputPolicy.redacted)
        host = hop.host
        dns = hop.lookup.map { lookup in
            .init(
                host: lookup.host,
                startMs: ms(lookup.start),
                endMs: lookup.end.map(ms),
                source: lookup.source,
                answers: lookup.answers.map { $0.address.description },
                error: lookup.error,
                answeredByHedge: lookup.answeredByHedge
            )
        }
        connects = hop.connects.map { attempt in
            .init(
                address: attempt.address.address.description,
                port: attempt.address.port,
                startMs: ms(attempt.start),
                endMs: attempt.end.map(ms),
                outcome: attempt.outcome,
                error: attempt.error,
                warm: attempt.isWarm ? true : nil,
                warmAgeMs: attempt.warmSince.map { (Double(attempt.start) - Double($0)) / 1e6 },
                hedge: attempt.hedge.map { hedge in
                    .init(startMs: ms(hedge.start), endMs: hedge.end.map(ms), winner: hedge.outcome, error: hedge.error)
                }
            )
        }
        tls = hop.secureConnectionStart.map { .init(startMs: ms($0), endMs: hop.secureConnectionEnd.map(ms)) }
        requestStartMs = hop.requestStart.map(ms)
        responseStartMs = hop.responseStart.map(ms)
        status = hop.status
        redirectTo = hop.redirectTo.map(InputPolicy.redacted)
        reusedConnection = hop.reusedConnection
        tlsResumed = hop.tlsResumed
        tlsVersion = hop.tlsVersion
        role = hop.role
        transport = hop.lastSample.map { last in
            .init(
                connectRTTMs: hop.connectSample?.smoothedRTT.milliseconds,
                smoothedRTTMs: last.smoothedRTT.milliseconds,
                minimumRTTMs: last.minimumRTT.milliseconds,
                retransmits: last.retransmits,
                outOfOrderPackets: last.outOfOrderPackets,
                bytesReceived: last.bytesReceived
            )
        }
    }
}

extension FirstFrameReport {
    /// Adds what the playlists say to the HLS hops: each playlist's reading, each segment's place.
    mutating func describePlaylists(_ reading: HLSPlaylistReading) {
        guard reading.isHLS else { return }
        for master in reading.masterPlaylists where hops.indices.contains(master.hop) {
            hops[master.hop].playlist = .init(
                variants: master.variants.map {
                    .init(bandwidth: $0.bandwidth, resolution: $0.resolution, uri: $0.uri, playlistHop: $0.playlistHop)
                },
                targetDurationSeconds: nil,
                segmentCount: 0,
                durationSeconds: 0,
                isLive: false,
                isComplete: master.complete
            )
        }
        for media in reading.mediaPlaylists where hops.indices.contains(media.hop) {
            hops[media.hop].playlist = .init(
                variants: [],
                targetDurationSeconds: media.targetDuration,
                segmentCount: media.segments.count,
                durationSeconds: media.totalDuration,
                isLive: media.isLive,
                isComplete: media.complete
            )
        }
        for fetch in reading.segments where hops.indices.contains(fetch.hop) {
            hops[fetch.hop].segment = .init(
                sequence: fetch.sequence,
                durationSeconds: fetch.duration,
                indexFromEnd: fetch.indexFromEnd,
                secondsFromLiveEdge: fetch.secondsFromLiveEdge
            )
        }
    }
}
