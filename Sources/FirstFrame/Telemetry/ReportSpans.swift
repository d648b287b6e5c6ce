import Foundation
import Tracing

/// One open's report as a tree of spans, made after the fact with the report's own instants: the open
/// (``SpanNames/open``, kind client, a child of the caller's context), and under it each hop's lookup, connect
/// attempts, TLS handshake and request (RTMP: the session with a child per phase), and the media stages.
///
/// Each instant is `startedAt` (the wall clock when the open was asked for) plus the report's milliseconds, as
/// nanoseconds since 1970: a span lasts what the report says, to the nanosecond's rounding. Attributes follow
/// OpenTelemetry's semantic conventions where one exists, `firstframe.*` otherwise.
struct ReportSpans {
    let labels: ReportLabels

    /// The report's milliseconds as wall-clock instants.
    struct Instants {
        /// `startedAt` in nanoseconds since 1970.
        let originNs: Int64

        init(startedAt: Double?, endMs: Double) {
            if let startedAt, startedAt.isFinite, startedAt > 0 {
                originNs = Int64((startedAt * 1e9).rounded())
            } else {
                // A report without a wall clock (schema 1): it ended now.
                originNs = Int64(DefaultTracerClock.now.nanosecondsSinceEpoch) - ReportMetrics.nanoseconds(endMs)
            }
        }

        func callAsFunction(_ ms: Double) -> DefaultTracerClock.Instant {
            let offset = ms.isFinite ? Int64((ms * 1e6).rounded()) : 0
            return DefaultTracerClock.Instant(nanosecondsSinceEpoch: UInt64(max(0, originNs + offset)))
        }
    }

    func emit<T: Tracer>(_ report: FirstFrameReport, context: ServiceContext, tracer: T) {
        let endMs = Self.endMs(of: report)
        let at = Instants(startedAt: report.startedAt, endMs: endMs)
        let open = tracer.startSpan(SpanNames.open, context: context, ofKind: .client, at: at(0))
        defer { open.end(at: at(endMs)) }
        guard open.isRecording else { return }
        describeOpen(open, report, at: at)

        let failedStage = report.error?.stage
        for hop in report.hops {
            emitHop(hop, report: report, endMs: endMs, parent: open.context, tracer: tracer, at: at)
        }
        for (index, stage) in report.stages.enumerated() where !stage.name.isNetwork {
            let span = tracer.startSpan(
                SpanNames.stage(stage.name),
                context: open.context,
                ofKind: .internal,
                at: at(stage.startMs)
            )
            span.updateAttributes { attributes in
                attributes["firstframe.stage"] = stage.name.rawValue
                attributes["firstframe.bytes"] = stage.bytes
                attributes["firstframe.packets"] = stage.packets
            }
            let isLastOfItsName = !report.stages[(index + 1)...].contains { $0.name == stage.name }
            if stage.name == failedStage, isLastOfItsName, let error = report.error {
                Self.fail(span, type: error.kind.rawValue, message: error.message)
            }
            span.end(at: at(stage.endMs))
        }
    }

    /// Where the open span ends: the first picture, or where the stages (or causes) stop for a failed open.
    static func endMs(of report: FirstFrameReport) -> Double {
        report.summary.firstVideoFrameMs ?? report.stages.last?.endMs ?? report.causes?.spans.last?.endMs ?? 0
    }

    private func describeOpen(_ span: some Span, _ report: FirstFrameReport, at: Instants) {
        span.updateAttributes { attributes in
            attributes["url.full"] = report.url
            if let host = labels.host ?? report.hops.first?.host { attributes["server.address"] = host }
            attributes["firstframe.preset"] = labels.preset
            attributes["firstframe.protocol"] = labels.protocol
            attributes["firstframe.outcome"] = report.outcome.rawValue
            attributes["firstframe.hops"] = report.hops.count
            if let picture = report.summary.firstVideoFrameMs { attributes["firstframe.first_picture_ms"] = picture }
            if let causes = report.causes {
                for (cause, name) in Self.causeAttributes { attributes[name] = causes[cause] }
                if let client = causes.clientAttributableMs { attributes["firstframe.client_attributable_ms"] = client }
                attributes["firstframe.keyframe_arrival"] = causes.keyframeArrival.rawValue
            }
            if let verified = report.tlsPeerVerified { attributes["firstframe.tls.peer_verified"] = verified }
            if !report.advice.isEmpty { attributes["firstframe.advice"] = report.advice.map(\.remedy.rawValue) }
            if let error = report.error {
                attributes["error.type"] = error.kind.rawValue
                attributes["firstframe.failure.stage"] = error.stage.rawValue
                attributes["firstframe.failure.kind"] = error.kind.rawValue
            }
        }
        if let error = report.error { span.setStatus(SpanStatus(code: .error, message: error.message)) }
        let milestones: [(String, Double?)] = [
            ("first byte", report.milestones.firstByteMs), ("first keyframe", report.milestones.firstKeyframeMs),
            ("first video frame", report.milestones.firstVideoFrameMs),
            ("first audio frame", report.milestones.firstAudioFrameMs),
        ]
        for case let (name, ms?) in milestones { span.addEvent(SpanEvent(name: name, at: at(ms))) }
    }

    private func emitHop<T: Tracer>(
        _ hop: FirstFrameReport.Hop,
        report: FirstFrameReport,
        endMs: Double,
        parent: ServiceContext,
        tracer: T,
        at: Instants
    ) {
        let host = hop.host ?? hop.dns?.host
        let failure = report.error
        if let lookup = hop.dns {
            let span = tracer.startSpan(
                SpanNames.dnsLookup(host: lookup.host),
                context: parent,
                ofKind: .client,
                at: at(lookup.startMs)
            )
            span.updateAttributes { attributes in
                attributes["dns.question.name"] = lookup.host
                if !lookup.answers.isEmpty { attributes["dns.answers"] = lookup.answers }
                attributes["firstframe.dns.source"] = lookup.source.rawValue
            }
            if let error = lookup.error {
                Self.fail(span, type: FirstFrameReport.Failure.Kind.dns.rawValue, message: error)
            }
            span.end(at: at(lookup.endMs ?? endMs))
        }
        let connected = hop.connects.first { $0.outcome == .connected }
        for attempt in hop.connects {
            let span = tracer.startSpan(
                SpanNames.connect(address: attempt.address, port: attempt.port),
                context: parent,
                ofKind: .client,
                at: at(attempt.startMs)
            )
            span.updateAttributes { attributes in
                attributes["network.peer.address"] = attempt.address
                attributes["network.peer.port"] = attempt.port
                if let host { attributes["server.address"] = host }
                attributes["server.port"] = attempt.port
                attributes["network.transport"] = "tcp"
                attributes["network.type"] = attempt.address.contains(":") ? "ipv6" : "ipv4"
                attributes["firstframe.connect.outcome"] = attempt.outcome.rawValue
            }
            if attempt.outcome == .failed {
                Self.fail(
                    span,
                    type: attempt.error ?? FirstFrameReport.Failure.Kind.connect.rawValue,
                    message: attempt.error
                )
            }
            span.end(at: at(attempt.endMs ?? endMs))
        }
        let port = connected?.port ?? hop.connects.last?.port
        if let tls = hop.tls {
            let span = tracer.startSpan(
                SpanNames.tlsHandshake(host: host ?? "-"),
                context: parent,
                ofKind: .client,
                at: at(tls.startMs)
            )
            span.updateAttributes { attributes in
                if let host { attributes["server.address"] = host }
                if let port { attributes["server.port"] = port }
                if let resumed = hop.tlsResumed { attributes["tls.resumed"] = resumed }
            }
            if tls.endMs == nil, let failure, failure.stage == .tls {
                Self.fail(span, type: failure.kind.rawValue, message: failure.message)
            }
            span.end(at: at(tls.endMs ?? endMs))
        }
        if hop.rtmp != nil || hop.url.map({ ReportLabels.scheme(of: $0).hasPrefix("rtmp") }) == true {
            emitRTMP(hop, host: host, port: port, endMs: endMs, parent: parent, tracer: tracer, at: at)
        } else if let requestStart = hop.requestStartMs {
            let span = tracer.startSpan(SpanNames.httpRequest, context: parent, ofKind: .client, at: at(requestStart))
            span.updateAttributes { attributes in
                attributes["http.request.method"] = "GET"
                if let url = hop.url { attributes["url.full"] = url }
                if let host { attributes["server.address"] = host }
                if let port { attributes["server.port"] = port }
                if let status = hop.status { attributes["http.response.status_code"] = status }
                if let target = hop.redirectTo { attributes["firstframe.redirect_to"] = target }
                if hop.reusedConnection { attributes["firstframe.connection_reused"] = true }
                if let role = hop.role { attributes["firstframe.hls.role"] = role.rawValue }
            }
            if let status = hop.status, status >= 400 {
                Self.fail(span, type: String(status), message: nil)
            } else if hop.responseStartMs == nil, let failure, failure.stage == .httpResponse {
                Self.fail(span, type: failure.kind.rawValue, message: failure.message)
            }
            span.end(at: at(hop.responseStartMs ?? endMs))
        }
    }

    /// An RTMP hop: the session from its first byte to the first media byte, a child span per phase.
    private func emitRTMP<T: Tracer>(
        _ hop: FirstFrameReport.Hop,
        host: String?,
        port: Int?,
        endMs: Double,
        parent: ServiceContext,
        tracer: T,
        at: Instants
    ) {
        let phases = hop.rtmp?.phases ?? []
        let starts = [hop.requestStartMs, phases.first?.startMs].compactMap { $0 }
        guard let startMs = starts.min() else { return }
        let lastPhaseEnd = phases.compactMap(\.endMs).max()
        let sessionEnd = hop.rtmp?.firstMediaByteMs ?? lastPhaseEnd ?? hop.responseStartMs ?? endMs
        let session = tracer.startSpan(SpanNames.rtmpPlay, context: parent, ofKind: .client, at: at(startMs))
        session.updateAttributes { attributes in
            if let url = hop.url { attributes["url.full"] = url }
            if let host { attributes["server.address"] = host }
            if let port { attributes["server.port"] = port }
            if let rtmp = hop.rtmp {
                attributes["firstframe.rtmp.stall_ms"] = rtmp.stallMs
                attributes["firstframe.rtmp.complete"] = rtmp.isComplete
                if let keyframe = rtmp.firstKeyframeEndMs { attributes["firstframe.rtmp.first_keyframe_ms"] = keyframe }
            }
        }
        for phase in phases {
            let span = tracer.startSpan(
                SpanNames.rtmpPhase(phase.name),
                context: session.context,
                ofKind: .client,
                at: at(phase.startMs)
            )
            span.updateAttributes { attributes in
                attributes["firstframe.rtmp.stall_ms"] = phase.stallMs
                attributes["firstframe.rtmp.stalls"] = phase.stalls.count
            }
            span.end(at: at(phase.endMs ?? max(sessionEnd, phase.startMs)))
        }
        session.end(at: at(max(sessionEnd, startMs)))
    }

    /// Each cause's attribute on the open span, made once.
    static let causeAttributes = Cause.allCases.map { ($0, causeAttribute($0)) }

    /// `firstframe.cause.keyframe_wait_ms`: the cause's name in snake case.
    static func causeAttribute(_ cause: Cause) -> String {
        var name = ""
        for character in cause.rawValue {
            if character.isUppercase { name += "_" + character.lowercased() } else { name.append(character) }
        }
        return "firstframe.cause.\(name)_ms"
    }

    private static func fail(_ span: some Span, type: String, message: String?) {
        span.attributes["error.type"] = type
        span.setStatus(SpanStatus(code: .error, message: message))
    }
}
