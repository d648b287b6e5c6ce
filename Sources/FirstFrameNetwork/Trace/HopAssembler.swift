import CNetworkHooks
import FirstFrameCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns a thread's raw network events into hops. A lookup starts a hop; the connects after it are its
/// attempts; the winning socket's first send is the request and its first receive the response. A send on a
/// socket whose hop already has a response is a new request on a kept-alive connection: a new hop.
enum HopAssembler {
    static func hops(from events: [NetworkEvent]) -> [NetworkHop] {
        assemble(events).hops
    }

    /// The hops, each with its HLS role when the trace read a playlist; the HLS reading the roles come from; and
    /// per hop, the indices in `events` of the reads that carried its response (its socket's receives, or its
    /// gnutls session's plaintext, from its request's response on: a kept-alive connection's later responses
    /// belong to the later hops).
    static func assemble(
        _ events: [NetworkEvent]
    ) -> (hops: [NetworkHop], hls: HLSPlaylistReading, responseReads: [[Int]]) {
        var assembler = State()
        for (index, event) in events.enumerated() {
            assembler.eventIndex = index
            assembler.apply(event)
        }
        var hops = assembler.hops
        let hls = HLSPlaylistReading(hops: hops, responseReads: assembler.responseReads, events: events)
        for index in hops.indices { hops[index].role = hls.roles[index] }
        return (hops, hls, assembler.responseReads)
    }

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

    private struct State {
        var hops: [NetworkHop] = []
        /// Per hop, the indices (in the trace's events) of the reads that carried its response: the socket's
        /// receives (plain HTTP) or its gnutls session's plaintext (HTTPS), from the first after its request.
        var responseReads: [[Int]] = []
        /// The index of the event being applied.
        var eventIndex = 0
        var connections: [Int32: Connection] = [:]
        /// fd → (hop, attempt) for attempts not yet finished.
        var attempts: [Int32: (hop: Int, attempt: Int)] = [:]
        /// The hop a lookup started and no connect has yet claimed as established.
        var openLookupHop: Int?
        /// The socket that connected last: gnutls calls (which carry no fd) belong to it.
        var lastConnectedFD: Int32?
        /// gnutls session pseudo-fd → the socket it runs over (the one that connected just before its handshake).
        var sessionSockets: [Int32: Int32] = [:]
        var handshakeBracketed: Set<Int> = []
        /// A numeric-host check is between its start and end.
        var numericCheck = false

        mutating func newHop(host: String?, port: Int?) -> Int {
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

        mutating func apply(_ event: NetworkEvent) {
            switch event.kind {
            case .lookupStart:
                // AI_NUMERICHOST lookups only ask "is this an address literal?" (FFmpeg does, before the real
                // lookup); they are not a hop.
                guard event.error & AI_NUMERICHOST == 0 else {
                    openLookupHop = nil
                    numericCheck = true
                    return
                }
                numericCheck = false
                let names = event.lookupNames
                let hop = newHop(host: names.host, port: Int(names.service))
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

            case .lookupEnd:
                guard !numericCheck else {
                    numericCheck = false
                    return
                }
                guard let hop = openLookupHop, var lookup = hops[hop].lookup, lookup.end == nil else { return }
                lookup.end = event.time
                lookup.answers = event.socketAddresses
                let source = DomainLookup.Source(event.aux)
                if source != .system || lookup.source != .literal { lookup.source = source }
                if event.result != 0 {
                    lookup.errorCode = Int32(truncatingIfNeeded: event.result)
                    var text = String(cString: gai_strerror(Int32(truncatingIfNeeded: event.result)))
                    if event.error == Int32(CNH_DETAIL_TIMED_OUT.rawValue) { text += " (lookup deadline passed)" }
                    if event.error == Int32(CNH_DETAIL_CANCELLED.rawValue) { text += " (lookup cancelled)" }
                    lookup.error = text
                    lookup.failure = DomainLookup.Failure(eaiCode: lookup.errorCode!, detail: event.error)
                }
                hops[hop].lookup = lookup

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

            case .connectReturn:
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
                // A session's handshake follows its socket's connect; later events find the socket by session.
                if sessionSockets[event.fd] == nil, let fd = lastConnectedFD { sessionSockets[event.fd] = fd }
                guard let socket = sessionSockets[event.fd], let hop = connections[socket]?.hop else { return }
                handshakeBracketed.insert(hop)
                hops[hop].kind = .tls
                if event.kind == .tlsHandshakeStart {
                    if hops[hop].secureConnectionStart == nil { hops[hop].secureConnectionStart = event.time }
                } else if event.result == 0 {
                    hops[hop].secureConnectionEnd = event.time
                    // aux: 1 resumed, 0 full handshake, -1 unknown (see CNH_EVENT_TLS_HANDSHAKE_END).
                    hops[hop].tlsResumed = event.aux == 1 ? true : event.aux == 0 ? false : nil
                } else if event.result != -28 && event.result != -52 {
                    // Not GNUTLS_E_AGAIN / GNUTLS_E_INTERRUPTED, which FFmpeg retries: the handshake failed.
                    hops[hop].secureConnectionError = "gnutls error \(event.result)"
                }

            case .shutdown, .close:
                if let pending = attempts[event.fd] {
                    attempts[event.fd] = nil
                    hops[pending.hop].connects[pending.attempt].end = event.time
                    hops[pending.hop].connects[pending.attempt].outcome = .abandoned
                }
                if let connection = connections[event.fd], hops[connection.hop].closed == nil {
                    hops[connection.hop].closed = event.time
                }
                if event.kind == .close { connections[event.fd] = nil }

            case .mark:
                break
            }
        }

        mutating func finishAttempt(fd: Int32, at time: UInt64, error: Int32) {
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
        }

        mutating func send(_ event: NetworkEvent) {
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
            // Otherwise, the record types: the handshake's records go first; the request is the first
            // application data after it.
            if hops[hop].secureConnectionStart == nil { hops[hop].secureConnectionStart = event.time }
            guard TLSRecords.types(in: data).contains(TLSRecords.applicationData) else { return }
            connection.tls.clientApplicationRecords += 1
            if connection.tls.serverEncryptedFirst && connection.tls.clientApplicationRecords == 1 {
                // TLS 1.3: this is the client's Finished; the handshake is over once it is out.
                hops[hop].secureConnectionEnd = event.time
            } else {
                if hops[hop].secureConnectionEnd == nil { hops[hop].secureConnectionEnd = event.time }
                hops[hop].requestStart = event.time
            }
        }

        mutating func receive(_ event: NetworkEvent) {
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
            }
        }

        /// A request's bytes (plain, or TLS plaintext): a send after a response on a connection that carries
        /// HTTP is a new request on a kept-alive connection, and so a new hop.
        mutating func applicationSend(_ event: NetworkEvent, on connection: inout Connection) {
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
        }

        /// A response's bytes (plain, or TLS plaintext): the first marks the response; the head is read once
        /// complete, however many reads it took.
        mutating func applicationReceive(_ event: NetworkEvent, on connection: inout Connection) {
            guard event.result > 0 else { return }
            let hop = connection.hop
            connection.lastDirection = .receive
            guard hops[hop].requestStart != nil else { return }
            if hops[hop].responseStart == nil { hops[hop].responseStart = event.time }
            if connection.carriesHTTP == true { responseReads[hop].append(eventIndex) }
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
        }

    }
}
