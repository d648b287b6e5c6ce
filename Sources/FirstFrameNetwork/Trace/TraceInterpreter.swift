import CNetworkHooks
import FirstFrameCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one reading of a thread's network events as hops, one event at a time: what a ``NetworkTrace`` is
/// assembled from after the capture, what an open's listener is told while it runs (``HopEvent``s), and what the
/// opener's stage deadlines look at on every FFmpeg poll (``LiveTrace`` feeds it the events recorded since the
/// last poll, so a poll costs the new events, not the trace).
///
/// A lookup starts a hop; the connects after it are its attempts; the winning socket's first send is the request
/// and its first receive the response. A send on a socket whose hop already has a response is a new request on a
/// kept-alive connection: a new hop. TLS is read from gnutls' own calls (handshake, plaintext) when the hooks
/// bracket them, else from the record types on the socket.
package struct TraceInterpreter {
    /// The hops so far, in the order they started (roles are given when the trace is complete:
    /// ``NetworkTrace/init(start:end:events:droppedEvents:interpreter:)``).
    package private(set) var hops: [NetworkHop] = []
    /// Per hop, the indices (in the events applied, counted from 0) of the reads that carried its response: the
    /// socket's receives (plain HTTP) or its gnutls session's plaintext (HTTPS), from the first after its request.
    package private(set) var responseReads: [[Int]] = []
    /// The hops whose response head said 400 or more, in the order the heads were read.
    package private(set) var failedResponses: [Int] = []
    /// How many events have been applied.
    package private(set) var eventCount = 0

    /// What the hops did that no one has taken yet (``takeHopEvents()``); nil when nobody listens.
    private var hopEvents: [HopEvent]?

    private struct Connection {
        var hop: Int
        /// The direction of the last application-level transfer: a send after a receive is a new request.
        var lastDirection: NetworkEvent.Kind?
        var tls = TLSProgress()
        /// The response head so far (it may span several reads) and whether it has been read.
        var responseHead: [UInt8] = []
        var headRead = false
        /// What the connection carries once its first request is seen: HTTP (split into hops per request) or not
        /// (RTMP and the rest: one hop).
        var carriesHTTP: Bool?
        /// Raw bytes sent since the last receive: under TLS they are the next request's, known only once its
        /// plaintext is seen.
        var sentSinceReceive: Int64 = 0
    }

    /// What the record types seen so far say about a TLS handshake that the gnutls hook did not bracket.
    private struct TLSProgress {
        /// The server sent an encrypted (type 23) record before the client did: TLS 1.3, whose client Finished
        /// is itself a type-23 record.
        var serverEncryptedFirst = false
        var clientApplicationRecords = 0
    }

    private var connections: [Int32: Connection] = [:]
    /// fd → (hop, attempt) for attempts not yet finished.
    private var attempts: [Int32: (hop: Int, attempt: Int)] = [:]
    /// The hop a lookup started and no connect has yet claimed as established.
    private var openLookupHop: Int?
    /// The socket that connected last: gnutls calls (which carry no fd) belong to it.
    private var lastConnectedFD: Int32?
    /// gnutls session pseudo-fd → the socket it runs over (the one that connected just before its handshake).
    private var sessionSockets: [Int32: Int32] = [:]
    private var handshakeBracketed: Set<Int> = []
    /// A numeric-host check is between its start and end.
    private var numericCheck = false

    /// - Parameter reportsHopEvents: keep the ``HopEvent``s each event completes, for ``takeHopEvents()``.
    package init(reportsHopEvents: Bool = false) {
        hopEvents = reportsHopEvents ? [] : nil
    }

    /// Applies every event of `events`, in order.
    package init(events: some Sequence<NetworkEvent>) {
        self.init()
        for event in events { apply(event) }
    }

    /// Whether it keeps the hop events for ``takeHopEvents()``.
    package var reportsHopEvents: Bool { hopEvents != nil }

    /// The hop events completed since the last call, in order.
    package mutating func takeHopEvents() -> [HopEvent] {
        guard let pending = hopEvents, !pending.isEmpty else { return [] }
        hopEvents = []
        return pending
    }

    /// Keeps no more hop events (the listener has had the last of them).
    package mutating func stopReportingHopEvents() {
        hopEvents = nil
    }

    /// The responses on connections still open whose first byte came but whose head never completed, as
    /// `responseStarted` events without a status: what a listener is told when the trace ends.
    package func unfinishedResponses() -> [HopEvent] {
        connections.values
            .filter { $0.carriesHTTP == true && !$0.headRead && hops[$0.hop].responseStart != nil }
            .sorted { $0.hop < $1.hop }
            .map {
                HopEvent(
                    time: hops[$0.hop].responseStart!,
                    hop: $0.hop,
                    kind: .responseStarted(status: nil, statusLine: nil, redirectTo: nil)
                )
            }
    }

    /// The last hop (by index) that fetched an HLS segment and got an HTTP error (400 or more), if any, with the
    /// roles the playlists read so far give: `events` are the events applied. The playlists are read only once
    /// some response has failed.
    package func failedSegment(events: [NetworkEvent]) -> NetworkHop? {
        guard !failedResponses.isEmpty else { return nil }
        let roles = HLSPlaylistReading(hops: hops, responseReads: responseReads, events: events).roles
        return failedResponses.filter { roles[$0] == .segment }.max().map { hops[$0] }
    }

    private mutating func tell(_ kind: HopEvent.Kind, hop: Int, at time: UInt64) {
        hopEvents?.append(HopEvent(time: time, hop: hop, kind: kind))
    }

    private mutating func newHop(host: String?, port: Int?) -> Int {
        hops.append(
            NetworkHop(
                index: hops.count,
                kind: .tcp,
                url: nil,
                host: host,
                port: port,
                lookup: nil,
                connects: [],
                remote: nil,
                reusedConnection: false,
                secureConnectionStart: nil,
                secureConnectionEnd: nil,
                secureConnectionError: nil,
                requestStart: nil,
                responseStart: nil,
                statusLine: nil,
                status: nil,
                redirectTo: nil,
                bytesSent: 0,
                bytesReceived: 0,
                closed: nil
            )
        )
        responseReads.append([])
        return hops.count - 1
    }

    /// Applies the next event of the trace.
    package mutating func apply(_ event: NetworkEvent) {
        defer { eventCount += 1 }
        switch event.kind {
        case .lookupStart:
            lookupStart(event)

        case .lookupEnd:
            lookupEnd(event)

        case .connectStart:
            guard let address = event.socketAddresses.first else { return }
            let hop: Int
            if let open = openLookupHop, hops[open].remote == nil {
                hop = open
            } else {
                hop = newHop(host: address.address.description, port: address.port)
                openLookupHop = hop
            }
            hops[hop].connects.append(
                ConnectAttempt(
                    address: address,
                    fd: event.fd,
                    start: event.time,
                    end: nil,
                    outcome: .pending,
                    errorCode: nil,
                    error: nil
                )
            )
            attempts[event.fd] = (hop, hops[hop].connects.count - 1)
            tell(.connectStarted(address: address.address.description, port: address.port), hop: hop, at: event.time)

        case .connectReturn:
            if event.aux == Int32(CNH_CONNECT_WARM.rawValue), let pending = attempts[event.fd] {
                hops[pending.hop].connects[pending.attempt].warmSince = event.data.withUnsafeBytes { raw in
                    raw.count >= 8 ? raw.loadUnaligned(as: UInt64.self) : event.time
                }
            }
            if event.result == 0 {
                finishAttempt(fd: event.fd, at: event.time, error: 0)
            } else if event.error != EINPROGRESS {
                finishAttempt(fd: event.fd, at: event.time, error: event.error)
            }

        case .socketError:
            finishAttempt(fd: event.fd, at: event.time, error: event.error)

        case .send:
            // A send on a socket still "connecting" means the caller learnt of the connect some other way.
            if attempts[event.fd] != nil { finishAttempt(fd: event.fd, at: event.time, error: 0) }
            send(event)

        case .receive:
            receive(event)

        case .tlsSend, .tlsReceive:
            // Plaintext inside a TLS session, on the socket its handshake ran over.
            guard let fd = sessionSockets[event.fd] ?? lastConnectedFD, var connection = connections[fd] else {
                return
            }
            if event.kind == .tlsSend {
                applicationSend(event, on: &connection)
            } else {
                applicationReceive(event, on: &connection)
            }
            connections[fd] = connection

        case .tlsHandshakeStart, .tlsHandshakeEnd:
            handshake(event)

        case .shutdown, .close:
            if let pending = attempts.removeValue(forKey: event.fd) {
                hops[pending.hop].connects[pending.attempt].end = event.time
                hops[pending.hop].connects[pending.attempt].outcome = .abandoned
                let address = hops[pending.hop].connects[pending.attempt].address
                tell(
                    .connectFinished(
                        address: address.address.description,
                        port: address.port,
                        outcome: .abandoned,
                        error: nil
                    ),
                    hop: pending.hop,
                    at: event.time
                )
            }
            if let connection = connections[event.fd], hops[connection.hop].closed == nil {
                hops[connection.hop].closed = event.time
            }
            if event.kind == .close { connections[event.fd] = nil }

        case .tcpInfo:
            // Before close() the connection is still mapped; a sample at connect comes once it is established.
            guard let connection = connections[event.fd], let sample = TransportSample(event) else { return }
            hops[connection.hop].transport.append(sample)
        case .connectHedgeStart:
            guard let pending = attempts[event.fd] else { return }
            hops[pending.hop].connects[pending.attempt].hedge = ConnectAttempt.Hedge(
                start: event.time,
                end: nil,
                outcome: nil,
                error: event.result < 0 && event.error != EINPROGRESS ? String(cString: strerror(event.error)) : nil
            )

        case .connectHedgeEnd:
            guard let pending = attempts[event.fd], var hedge = hops[pending.hop].connects[pending.attempt].hedge
            else { return }
            hedge.end = event.time
            switch UInt32(event.aux) {
            case CNH_HEDGE_WON.rawValue: hedge.outcome = .hedge
            case CNH_HEDGE_ORIGINAL_WON.rawValue: hedge.outcome = .original
            case CNH_HEDGE_FAILED.rawValue:
                hedge.outcome = .failed
                if event.error != 0 { hedge.error = String(cString: strerror(event.error)) }
            default: hedge.outcome = .abandoned
            }
            hops[pending.hop].connects[pending.attempt].hedge = hedge

        case .mark:
            break
        }
    }

    // MARK: Lookups and connects

    private mutating func lookupStart(_ event: NetworkEvent) {
        // AI_NUMERICHOST lookups only ask "is this an address literal?" (FFmpeg does, before the real lookup);
        // they are not a hop.
        guard event.error & AI_NUMERICHOST == 0 else {
            openLookupHop = nil
            numericCheck = true
            return
        }
        numericCheck = false
        let names = event.lookupNames
        let port = Int(names.service)
        let hop = newHop(host: names.host, port: port)
        hops[hop].lookup = DomainLookup(
            host: names.host,
            service: names.service,
            start: event.time,
            end: nil,
            answers: [],
            source: IPAddress(names.host) != nil ? .literal : .system,
            errorCode: nil,
            error: nil,
            failure: nil
        )
        openLookupHop = hop
        tell(.lookupStarted(host: names.host, port: port), hop: hop, at: event.time)
    }

    private mutating func lookupEnd(_ event: NetworkEvent) {
        guard !numericCheck else {
            numericCheck = false
            return
        }
        guard let hop = openLookupHop, var lookup = hops[hop].lookup, lookup.end == nil else { return }
        lookup.end = event.time
        lookup.answers = event.socketAddresses
        let source = DomainLookup.Source(event.aux)
        if source != .system || lookup.source != .literal { lookup.source = source }
        if event.result == 0, event.error == Int32(CNH_DETAIL_HEDGE_ANSWERED.rawValue) { lookup.answeredByHedge = true }
        if event.result != 0 {
            lookup.errorCode = Int32(truncatingIfNeeded: event.result)
            var text = String(cString: gai_strerror(Int32(truncatingIfNeeded: event.result)))
            if event.error == Int32(CNH_DETAIL_TIMED_OUT.rawValue) { text += " (lookup deadline passed)" }
            if event.error == Int32(CNH_DETAIL_CANCELLED.rawValue) { text += " (lookup cancelled)" }
            lookup.error = text
            lookup.failure = DomainLookup.Failure(eaiCode: lookup.errorCode!, detail: event.error)
        }
        hops[hop].lookup = lookup
        tell(
            .lookupFinished(
                host: lookup.host,
                source: lookup.source,
                answers: lookup.answers.map(\.address.description),
                error: lookup.error
            ),
            hop: hop,
            at: event.time
        )
    }

    private mutating func finishAttempt(fd: Int32, at time: UInt64, error: Int32) {
        guard let pending = attempts.removeValue(forKey: fd) else { return }
        var attempt = hops[pending.hop].connects[pending.attempt]
        attempt.end = time
        if error == 0 {
            attempt.outcome = .connected
            hops[pending.hop].remote = attempt.address
            connections[fd] = Connection(hop: pending.hop)
            lastConnectedFD = fd
            if openLookupHop == pending.hop { openLookupHop = nil }
        } else {
            attempt.outcome = .failed
            attempt.errorCode = error
            attempt.error = String(cString: strerror(error))
        }
        hops[pending.hop].connects[pending.attempt] = attempt
        tell(
            .connectFinished(
                address: attempt.address.address.description,
                port: attempt.address.port,
                outcome: attempt.outcome,
                error: attempt.error
            ),
            hop: pending.hop,
            at: time
        )
    }

    // MARK: TLS

    /// A gnutls handshake's start or end: a session's handshake follows its socket's connect; later events find
    /// the socket by session.
    private mutating func handshake(_ event: NetworkEvent) {
        if sessionSockets[event.fd] == nil, let fd = lastConnectedFD { sessionSockets[event.fd] = fd }
        guard let socket = sessionSockets[event.fd], let hop = connections[socket]?.hop else { return }
        handshakeBracketed.insert(hop)
        hops[hop].kind = .tls
        if event.kind == .tlsHandshakeStart {
            if hops[hop].secureConnectionStart == nil {
                hops[hop].secureConnectionStart = event.time
                tell(.tlsStarted, hop: hop, at: event.time)
            }
        } else if event.result == 0 {
            hops[hop].secureConnectionEnd = event.time
            // aux: 1 resumed, 0 full handshake, -1 unknown (see CNH_EVENT_TLS_HANDSHAKE_END).
            hops[hop].tlsResumed = event.aux == 1 ? true : event.aux == 0 ? false : nil
            // error: gnutls_protocol_t (GNUTLS_TLS1_0 = 2 … GNUTLS_TLS1_3 = 5).
            hops[hop].tlsVersion = (2...5).contains(event.error) ? "1.\(event.error - 2)" : nil
            tell(.tlsFinished(resumed: hops[hop].tlsResumed, error: nil), hop: hop, at: event.time)
        } else if event.result != -28 && event.result != -52 {
            // Not GNUTLS_E_AGAIN / GNUTLS_E_INTERRUPTED, which FFmpeg retries: the handshake failed.
            let error = "gnutls error \(event.result)"
            hops[hop].secureConnectionError = error
            tell(.tlsFinished(resumed: nil, error: error), hop: hop, at: event.time)
        }
    }

    // MARK: Requests and responses

    private mutating func send(_ event: NetworkEvent) {
        guard var connection = connections[event.fd] else { return }
        defer { connections[event.fd] = connection }
        let hop = connection.hop
        let data = event.data
        if hops[hop].bytesSent == 0, hops[hop].bytesReceived == 0, !hops[hop].reusedConnection {
            if data.count >= 3, data[0] == TLSRecords.handshake, data[1] == 0x03 {
                hops[hop].kind = .tls
            } else if data.first == 0x03, event.result == 1537 {
                hops[hop].kind = .rtmp
            } else if HTTPHead.isRequest(data) {
                hops[hop].kind = .http
            }
        }
        if hops[hop].kind != .tls {
            applicationSend(event, on: &connection)
            if event.result > 0 { hops[connection.hop].bytesSent += event.result }
            return
        }
        if event.result > 0 {
            hops[hop].bytesSent += event.result
            connection.sentSinceReceive += event.result
        }
        // With gnutls hooked, the handshake and the plaintext come from its own calls.
        guard !handshakeBracketed.contains(hop), hops[hop].requestStart == nil else { return }
        // Otherwise, the record types: the handshake's records go first; the request is the first application
        // data after it.
        if hops[hop].secureConnectionStart == nil {
            hops[hop].secureConnectionStart = event.time
            tell(.tlsStarted, hop: hop, at: event.time)
        }
        guard TLSRecords.types(in: data).contains(TLSRecords.applicationData) else { return }
        connection.tls.clientApplicationRecords += 1
        if connection.tls.serverEncryptedFirst && connection.tls.clientApplicationRecords == 1 {
            // TLS 1.3: this is the client's Finished; the handshake is over once it is out.
            hops[hop].secureConnectionEnd = event.time
            tell(.tlsFinished(resumed: nil, error: nil), hop: hop, at: event.time)
        } else {
            if hops[hop].secureConnectionEnd == nil {
                hops[hop].secureConnectionEnd = event.time
                tell(.tlsFinished(resumed: nil, error: nil), hop: hop, at: event.time)
            }
            hops[hop].requestStart = event.time
            tell(.requestSent(url: nil), hop: hop, at: event.time)
        }
    }

    private mutating func receive(_ event: NetworkEvent) {
        guard var connection = connections[event.fd] else { return }
        defer { connections[event.fd] = connection }
        let hop = connection.hop
        guard event.result > 0 else { return }
        hops[hop].bytesReceived += event.result
        connection.sentSinceReceive = 0
        guard hops[hop].kind == .tls else {
            applicationReceive(event, on: &connection)
            return
        }
        guard !handshakeBracketed.contains(hop) else { return }
        if hops[hop].requestStart == nil {
            if connection.tls.clientApplicationRecords == 0,
                TLSRecords.types(in: event.data).contains(TLSRecords.applicationData)
            {
                connection.tls.serverEncryptedFirst = true
            }
        } else if hops[hop].responseStart == nil {
            // Without the plaintext the first encrypted byte has to do (under TLS 1.3 it may be a ticket).
            hops[hop].responseStart = event.time
            tell(.responseStarted(status: nil, statusLine: nil, redirectTo: nil), hop: hop, at: event.time)
        }
    }

    /// A request's bytes (plain, or TLS plaintext): a send after a response on a connection that carries HTTP is
    /// a new request on a kept-alive connection, and so a new hop.
    private mutating func applicationSend(_ event: NetworkEvent, on connection: inout Connection) {
        guard event.result > 0 else { return }
        if connection.carriesHTTP == nil { connection.carriesHTTP = HTTPHead.isRequest(event.data) }
        var hop = connection.hop
        if connection.carriesHTTP == true, hops[hop].responseStart != nil, connection.lastDirection == .receive {
            let previous = hops[hop]
            hop = newHop(host: previous.host, port: previous.port)
            hops[hop].kind = previous.kind
            hops[hop].remote = previous.remote
            hops[hop].reusedConnection = true
            if handshakeBracketed.contains(connection.hop) { handshakeBracketed.insert(hop) }
            if previous.kind == .tls {
                // The encrypted request went out (inside gnutls) before its plaintext event: move its bytes.
                hops[connection.hop].bytesSent -= connection.sentSinceReceive
                hops[hop].bytesSent += connection.sentSinceReceive
            }
            connection.hop = hop
            connection.responseHead = []
            connection.headRead = false
        }
        connection.lastDirection = .send
        guard hops[hop].requestStart == nil else { return }
        hops[hop].requestStart = event.time
        if connection.carriesHTTP == true, let request = HTTPHead.request(event.data) {
            let authority = request.host ?? hops[hop].host ?? "?"
            hops[hop].url = "\(hops[hop].kind == .tls ? "https" : "http")://\(authority)\(request.target)"
        }
        tell(.requestSent(url: hops[hop].url), hop: hop, at: event.time)
    }

    /// A response's bytes (plain, or TLS plaintext): the first marks the response; the head is read once
    /// complete, however many reads it took.
    private mutating func applicationReceive(_ event: NetworkEvent, on connection: inout Connection) {
        guard event.result > 0 else { return }
        let hop = connection.hop
        connection.lastDirection = .receive
        guard hops[hop].requestStart != nil else { return }
        if hops[hop].responseStart == nil {
            hops[hop].responseStart = event.time
            if connection.carriesHTTP != true {
                tell(.responseStarted(status: nil, statusLine: nil, redirectTo: nil), hop: hop, at: event.time)
            }
        }
        if connection.carriesHTTP == true { responseReads[hop].append(eventCount) }
        guard !connection.headRead, connection.carriesHTTP == true else { return }
        let scanned = connection.responseHead.count - 3
        connection.responseHead += event.data
        let complete = HTTPHead.headLength(connection.responseHead, searchingFrom: scanned) != nil
        // The capture budget ran out (a short copy) or the head is complete: read what there is.
        guard complete || event.data.count < event.result || event.data.isEmpty else { return }
        connection.headRead = true
        if let response = HTTPHead.response(connection.responseHead) {
            hops[hop].statusLine = response.statusLine
            hops[hop].status = response.status
            hops[hop].redirectTo = response.location
        }
        connection.responseHead = []
        if let status = hops[hop].status, status >= 400 { failedResponses.append(hop) }
        tell(
            .responseStarted(
                status: hops[hop].status,
                statusLine: hops[hop].statusLine,
                redirectTo: hops[hop].redirectTo
            ),
            hop: hop,
            at: hops[hop].responseStart!
        )
    }
}
