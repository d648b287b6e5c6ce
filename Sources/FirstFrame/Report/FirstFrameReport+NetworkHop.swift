import CFFmpeg
import Foundation

extension FirstFrameReport.Hop {
    init(_ hop: NetworkHop, timeline: StageTimeline) {
        let ms = timeline.milliseconds
        url = hop.url.map(InputPolicy.redacted)
        host = hop.host
        dns = hop.lookup.map { lookup in
            .init(host: lookup.host, startMs: ms(lookup.start), endMs: lookup.end.map(ms), source: lookup.source,
                  answers: lookup.answers.map { $0.address.description }, error: lookup.error)
        }
        connects = hop.connects.map { attempt in
            .init(address: attempt.address.address.description, port: attempt.address.port, startMs: ms(attempt.start),
                  endMs: attempt.end.map(ms), outcome: attempt.outcome, error: attempt.error)
        }
        tls = hop.secureConnectionStart.map { .init(startMs: ms($0), endMs: hop.secureConnectionEnd.map(ms)) }
        requestStartMs = hop.requestStart.map(ms)
        responseStartMs = hop.responseStart.map(ms)
        status = hop.status
        redirectTo = hop.redirectTo.map(InputPolicy.redacted)
        reusedConnection = hop.reusedConnection
    }
}
