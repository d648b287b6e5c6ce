import FirstFrameNetwork
import Testing

/// The trace of `events`, checked on the way as an open reads it: one event at a time.
///
/// After every event, the interpreter fed so far must hold the hops the whole prefix gives when read at once, and
/// name the same failed segment as the prefix's hops with their roles (what the opener's limit used to work out by
/// assembling the trace again on every poll). At the end, every hop field must have had its ``HopEvent`` at the
/// field's own instant (what an open's listener is told), and nothing else.
func replayed(
    start: UInt64 = 0,
    end: UInt64,
    _ events: [NetworkEvent],
    sourceLocation: SourceLocation = #_sourceLocation
) -> NetworkTrace {
    var interpreter = TraceInterpreter(reportsHopEvents: true)
    var told: [HopEvent] = []
    for (index, event) in events.enumerated() {
        let count = index + 1
        interpreter.apply(event)
        told += interpreter.takeHopEvents()
        let prefix = Array(events.prefix(count))
        let batch = NetworkTrace(start: start, end: end, events: prefix)
        let unroled = batch.hops.map { hop -> NetworkHop in
            var hop = hop
            hop.role = nil
            return hop
        }
        #expect(interpreter.hops == unroled, "hops after \(count) events", sourceLocation: sourceLocation)
        let failed = batch.hops.last { $0.role == .segment && ($0.status ?? 0) >= 400 }
        #expect(
            interpreter.failedSegment(events: prefix)?.index == failed?.index,
            "failed segment after \(count) events",
            sourceLocation: sourceLocation
        )
    }
    told += interpreter.unfinishedResponses()
    let trace = NetworkTrace(start: start, end: end, events: events)
    #expect(trace.hops.map(\.index) == interpreter.hops.map(\.index), sourceLocation: sourceLocation)
    expectToldAsRecorded(told, trace.hops, sourceLocation: sourceLocation)
    return trace
}

/// Each hop's fields have their event at their instant, and every event belongs to a hop.
func expectToldAsRecorded(
    _ told: [HopEvent],
    _ hops: [NetworkHop],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(told.allSatisfy { hops.indices.contains($0.hop) }, sourceLocation: sourceLocation)
    for hop in hops {
        let mine = told.filter { $0.hop == hop.index }
        func first(_ name: String) -> HopEvent? {
            mine.first { "\($0.kind)".hasPrefix(name) }
        }
        if let lookup = hop.lookup {
            #expect(
                first("lookupStarted")
                    == HopEvent(
                        time: lookup.start,
                        hop: hop.index,
                        kind: .lookupStarted(host: lookup.host, port: Int(lookup.service))
                    ),
                "hop \(hop.index) lookup start",
                sourceLocation: sourceLocation
            )
            let finished = lookup.end.map {
                HopEvent(
                    time: $0,
                    hop: hop.index,
                    kind: .lookupFinished(
                        host: lookup.host,
                        source: lookup.source,
                        answers: lookup.answers.map(\.address.description),
                        error: lookup.error
                    )
                )
            }
            #expect(first("lookupFinished") == finished, sourceLocation: sourceLocation)
        } else {
            #expect(first("lookup") == nil, sourceLocation: sourceLocation)
        }
        let starts = mine.filter { "\($0.kind)".hasPrefix("connectStarted") }
        #expect(
            starts
                == hop.connects.map {
                    HopEvent(
                        time: $0.start,
                        hop: hop.index,
                        kind: .connectStarted(address: $0.address.address.description, port: $0.address.port)
                    )
                },
            "hop \(hop.index) connect starts",
            sourceLocation: sourceLocation
        )
        for attempt in hop.connects {
            let finished = attempt.end.map {
                HopEvent(
                    time: $0,
                    hop: hop.index,
                    kind: .connectFinished(
                        address: attempt.address.address.description,
                        port: attempt.address.port,
                        outcome: attempt.outcome,
                        error: attempt.error
                    )
                )
            }
            if let finished {
                #expect(mine.contains(finished), "hop \(hop.index) connect end", sourceLocation: sourceLocation)
            }
        }
        #expect(first("tlsStarted")?.time == hop.secureConnectionStart, sourceLocation: sourceLocation)
        if let end = hop.secureConnectionEnd {
            #expect(
                mine.contains { $0.time == end && "\($0.kind)".hasPrefix("tlsFinished") },
                "hop \(hop.index) TLS end",
                sourceLocation: sourceLocation
            )
        }
        let request = hop.requestStart.map { HopEvent(time: $0, hop: hop.index, kind: .requestSent(url: hop.url)) }
        #expect(first("requestSent") == request, "hop \(hop.index) request", sourceLocation: sourceLocation)
        let response = first("responseStarted")
        #expect(response?.time == hop.responseStart, "hop \(hop.index) response", sourceLocation: sourceLocation)
        if case .responseStarted(let status, let statusLine, let redirectTo) = response?.kind {
            #expect(
                status == hop.status && statusLine == hop.statusLine && redirectTo == hop.redirectTo,
                "hop \(hop.index) response head",
                sourceLocation: sourceLocation
            )
        }
    }
}
