import CNetworkHooks

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The trace's raw events turned into ``OpenEvent``s one at a time, as they are recorded: the incremental twin of
/// `HopAssembler`, which assembles the whole trace once the open is over. It numbers hops exactly as the assembler
/// does (a lookup starts a hop; a connect with no lookup waiting starts one; a request after a response on a
/// kept-alive HTTP connection starts one), so an event's hop is its index in the report's `hops`, and it takes the
/// same events for the same instants (the lookup's end, the attempt's outcome, the gnutls handshake's ends, the
/// first application byte each way), so an event's time is the report's.
///
/// It keeps only what deciding the next event needs, and copies an event's bytes only when it reads them (names,
/// addresses, a request head, a response head until complete): a media stream's receives cost a few comparisons.
/// The record-type inference the assembler falls back to for TLS that the gnutls hooks did not bracket is not
/// repeated: such a hop gets no TLS, request or response events (this build brackets every gnutls handshake).
struct NetworkEventTracker {
    /// One raw event; `data` is valid only during ``apply(_:)``.
    struct RawEvent {
        var kind: Int32
        var time: UInt64
        var fd: Int32
        var result: Int64
        var error: Int32
        var aux: Int32
        var data: UnsafeRawBufferPointer

        var bytes: [UInt8] { Array(data) }
    }

    /// An event found, before its time goes on the report's clock.
    struct Found {
        var time: UInt64
        var hop: Int
        var kind: OpenEvent.Kind
    }

    private struct Hop {
        var host: String?
        var kind: NetworkHop.Kind = .tcp
        var lookupHost: String?
        var lookupIsLiteral = false
        var lookupEnded = false
        var hasRemote = false
        var reused = false
        var tlsStarted = false
        var requestStarted = false
        var responseStart: UInt64?
        var bytesSent: Int64 = 0
        var bytesReceived: Int64 = 0
    }

    private struct Connection {
        var hop: Int
        /// The last application bytes went this way: a send after a receive is a new request.
        var receivedLast = false
        var carriesHTTP: Bool?
        var responseHead: [UInt8] = []
        var headRead = false
    }

    private struct Attempt {
        var hop: Int
        var address: String
        var port: Int
    }

    private var hops: [Hop] = []
    private var connections: [Int32: Connection] = [:]
    private var attempts: [Int32: Attempt] = [:]
    private var openLookupHop: Int?
    private var lastConnectedFD: Int32?
    private var sessionSockets: [Int32: Int32] = [:]
    private var bracketed: Set<Int> = []
    private var numericCheck = false
    private var found: [Found] = []

    /// Applies one event; returns the open events it completes, in order.
    mutating func apply(_ event: RawEvent) -> [Found] {
        found.removeAll(keepingCapacity: true)
        switch UInt32(bitPattern: event.kind) {
        case CNH_EVENT_LOOKUP_START.rawValue: lookupStart(event)
        case CNH_EVENT_LOOKUP_END.rawValue: lookupEnd(event)
        case CNH_EVENT_CONNECT_START.rawValue: connectStart(event)
        case CNH_EVENT_CONNECT_RETURN.rawValue:
            if event.result == 0 {
                finishAttempt(fd: event.fd, at: event.time, error: 0)
            } else if event.error != EINPROGRESS {
                finishAttempt(fd: event.fd, at: event.time, error: event.error)
            }
        case CNH_EVENT_SOCKET_ERROR.rawValue: finishAttempt(fd: event.fd, at: event.time, error: event.error)
        case CNH_EVENT_SEND.rawValue:
            if attempts[event.fd] != nil { finishAttempt(fd: event.fd, at: event.time, error: 0) }
            send(event)
        case CNH_EVENT_RECV.rawValue: receive(event)
        case CNH_EVENT_TLS_SEND.rawValue, CNH_EVENT_TLS_RECV.rawValue:
            guard let fd = sessionSockets[event.fd] ?? lastConnectedFD, var connection = connections[fd] else { break }
            if UInt32(bitPattern: event.kind) == CNH_EVENT_TLS_SEND.rawValue {
                applicationSend(event, on: &connection)
            } else {
                applicationReceive(event, on: &connection)
            }
            connections[fd] = connection
        case CNH_EVENT_TLS_HANDSHAKE_START.rawValue, CNH_EVENT_TLS_HANDSHAKE_END.rawValue: handshake(event)
        case CNH_EVENT_SHUTDOWN.rawValue, CNH_EVENT_CLOSE.rawValue:
            if let pending = attempts.removeValue(forKey: event.fd) {
                found.append(
                    Found(
                        time: event.time,
                        hop: pending.hop,
                        kind: .connectFinished(
                            address: pending.address,
                            port: pending.port,
                            outcome: .abandoned,
                            error: nil
                        )
                    )
                )
            }
            if UInt32(bitPattern: event.kind) == CNH_EVENT_CLOSE.rawValue { connections[event.fd] = nil }
        default:
            break
        }
        return found
    }

    /// The responses whose first byte came but whose head never completed: delivered without a status when the
    /// open ends.
    mutating func flush() -> [Found] {
        var pending: [Found] = []
        for (fd, connection) in connections.sorted(by: { $0.value.hop < $1.value.hop })
        where connection.carriesHTTP == true {
            guard !connection.headRead, let start = hops[connection.hop].responseStart else { continue }
            connections[fd]?.headRead = true
            pending.append(
                Found(
                    time: start,
                    hop: connection.hop,
                    kind: .responseStarted(status: nil, statusLine: nil, redirectTo: nil)
                )
            )
        }
        return pending
    }

    // MARK: Lookups and connects

    private mutating func newHop(host: String?) -> Int {
        hops.append(Hop(host: host))
        return hops.count - 1
    }

    private mutating func lookupStart(_ event: RawEvent) {
        // AI_NUMERICHOST lookups only ask "is this an address literal?": not a hop.
        guard event.error & AI_NUMERICHOST == 0 else {
            openLookupHop = nil
            numericCheck = true
            return
        }
        numericCheck = false
        let parts = event.bytes.split(separator: 0, omittingEmptySubsequences: false)
        let host = parts.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let service = parts.count > 1 ? String(decoding: parts[1], as: UTF8.self) : ""
        let hop = newHop(host: host)
        hops[hop].lookupHost = host
        hops[hop].lookupIsLiteral = IPAddress(host) != nil
        openLookupHop = hop
        found.append(Found(time: event.time, hop: hop, kind: .lookupStarted(host: host, port: Int(service))))
    }

    private mutating func lookupEnd(_ event: RawEvent) {
        guard !numericCheck else {
            numericCheck = false
            return
        }
        guard let hop = openLookupHop, let host = hops[hop].lookupHost, !hops[hop].lookupEnded else { return }
        hops[hop].lookupEnded = true
        var source = Self.source(event.aux)
        if source == .system, hops[hop].lookupIsLiteral { source = .literal }
        var error: String?
        if event.result != 0 {
            var text = String(cString: gai_strerror(Int32(truncatingIfNeeded: event.result)))
            if event.error == Int32(CNH_DETAIL_TIMED_OUT.rawValue) { text += " (lookup deadline passed)" }
            if event.error == Int32(CNH_DETAIL_CANCELLED.rawValue) { text += " (lookup cancelled)" }
            error = text
        }
        let answers = NetworkEvent.packedAddresses(event.data).map(\.address.description)
        found.append(
            Found(
                time: event.time,
                hop: hop,
                kind: .lookupFinished(host: host, source: source, answers: answers, error: error)
            )
        )
    }

    private mutating func connectStart(_ event: RawEvent) {
        guard let address = SocketAddress(sockaddrBytes: event.data) else { return }
        let hop: Int
        if let open = openLookupHop, !hops[open].hasRemote {
            hop = open
        } else {
            hop = newHop(host: address.address.description)
            openLookupHop = hop
        }
        let text = address.address.description
        attempts[event.fd] = Attempt(hop: hop, address: text, port: address.port)
        found.append(Found(time: event.time, hop: hop, kind: .connectStarted(address: text, port: address.port)))
    }

    private mutating func finishAttempt(fd: Int32, at time: UInt64, error: Int32) {
        guard let pending = attempts.removeValue(forKey: fd) else { return }
        if error == 0 {
            hops[pending.hop].hasRemote = true
            connections[fd] = Connection(hop: pending.hop)
            lastConnectedFD = fd
            if openLookupHop == pending.hop { openLookupHop = nil }
            found.append(
                Found(
                    time: time,
                    hop: pending.hop,
                    kind: .connectFinished(
                        address: pending.address,
                        port: pending.port,
                        outcome: .connected,
                        error: nil
                    )
                )
            )
        } else {
            found.append(
                Found(
                    time: time,
                    hop: pending.hop,
                    kind: .connectFinished(
                        address: pending.address,
                        port: pending.port,
                        outcome: .failed,
                        error: String(cString: strerror(error))
                    )
                )
            )
        }
    }

    // MARK: TLS

    private mutating func handshake(_ event: RawEvent) {
        if sessionSockets[event.fd] == nil, let fd = lastConnectedFD { sessionSockets[event.fd] = fd }
        guard let socket = sessionSockets[event.fd], let hop = connections[socket]?.hop else { return }
        bracketed.insert(hop)
        hops[hop].kind = .tls
        if UInt32(bitPattern: event.kind) == CNH_EVENT_TLS_HANDSHAKE_START.rawValue {
            guard !hops[hop].tlsStarted else { return }
            hops[hop].tlsStarted = true
            found.append(Found(time: event.time, hop: hop, kind: .tlsStarted))
        } else if event.result == 0 {
            let resumed: Bool? = event.aux == 1 ? true : event.aux == 0 ? false : nil
            found.append(Found(time: event.time, hop: hop, kind: .tlsFinished(resumed: resumed, error: nil)))
        } else if event.result != -28 && event.result != -52 {
            // Not GNUTLS_E_AGAIN / GNUTLS_E_INTERRUPTED, which FFmpeg retries: the handshake failed.
            found.append(
                Found(
                    time: event.time,
                    hop: hop,
                    kind: .tlsFinished(resumed: nil, error: "gnutls error \(event.result)")
                )
            )
        }
    }

    // MARK: Requests and responses

    private mutating func send(_ event: RawEvent) {
        guard var connection = connections[event.fd] else { return }
        defer { connections[event.fd] = connection }
        let hop = connection.hop
        if hops[hop].bytesSent == 0, hops[hop].bytesReceived == 0, !hops[hop].reused {
            let data = event.data
            if data.count >= 3, data[0] == 22, data[1] == 0x03 {
                hops[hop].kind = .tls
            } else if data.first == 0x03, event.result == 1537 {
                hops[hop].kind = .rtmp
            } else if Self.isRequest(data) {
                hops[hop].kind = .http
            }
        }
        if event.result > 0 { hops[hop].bytesSent += event.result }
        // Under TLS the request is the plaintext gnutls hands over (TLS_SEND), not these records.
        guard hops[hop].kind != .tls else { return }
        applicationSend(event, on: &connection)
    }

    private mutating func receive(_ event: RawEvent) {
        guard var connection = connections[event.fd], event.result > 0 else { return }
        defer { connections[event.fd] = connection }
        hops[connection.hop].bytesReceived += event.result
        guard hops[connection.hop].kind != .tls else { return }
        applicationReceive(event, on: &connection)
    }

    /// A request's bytes (plain, or TLS plaintext): a send after a response on a connection that carries HTTP is a
    /// new request on a kept-alive connection, and so a new hop.
    private mutating func applicationSend(_ event: RawEvent, on connection: inout Connection) {
        guard event.result > 0 else { return }
        if connection.carriesHTTP == nil { connection.carriesHTTP = Self.isRequest(event.data) }
        var hop = connection.hop
        if connection.carriesHTTP == true, hops[hop].responseStart != nil, connection.receivedLast {
            let previous = hops[hop]
            hop = newHop(host: previous.host)
            hops[hop].kind = previous.kind
            hops[hop].hasRemote = previous.hasRemote
            hops[hop].reused = true
            if bracketed.contains(connection.hop) { bracketed.insert(hop) }
            connection.hop = hop
            connection.responseHead = []
            connection.headRead = false
        }
        connection.receivedLast = false
        guard !hops[hop].requestStarted else { return }
        hops[hop].requestStarted = true
        var url: String?
        if connection.carriesHTTP == true, let request = Self.request(event.bytes) {
            let authority = request.host ?? hops[hop].host ?? "?"
            url = InputPolicy.redacted("\(hops[hop].kind == .tls ? "https" : "http")://\(authority)\(request.target)")
        }
        found.append(Found(time: event.time, hop: hop, kind: .requestSent(url: url)))
    }

    /// A response's bytes (plain, or TLS plaintext): the first marks the response; the head is read once complete,
    /// however many reads it took.
    private mutating func applicationReceive(_ event: RawEvent, on connection: inout Connection) {
        guard event.result > 0 else { return }
        let hop = connection.hop
        connection.receivedLast = true
        guard hops[hop].requestStarted else { return }
        if hops[hop].responseStart == nil {
            hops[hop].responseStart = event.time
            if connection.carriesHTTP != true {
                found.append(
                    Found(
                        time: event.time,
                        hop: hop,
                        kind: .responseStarted(status: nil, statusLine: nil, redirectTo: nil)
                    )
                )
            }
        }
        guard !connection.headRead, connection.carriesHTTP == true, let start = hops[hop].responseStart else { return }
        let scanned = connection.responseHead.count - 3
        connection.responseHead += event.data
        let complete = HTTPHead.headLength(connection.responseHead, searchingFrom: scanned) != nil
        // The capture budget ran out (a short copy) or the head is complete: read what there is.
        guard complete || event.data.count < event.result || event.data.isEmpty else { return }
        connection.headRead = true
        let response = HTTPHead.response(connection.responseHead)
        connection.responseHead = []
        found.append(
            Found(
                time: start,
                hop: hop,
                kind: .responseStarted(
                    status: response?.status,
                    statusLine: response?.statusLine,
                    redirectTo: response?.location.map(InputPolicy.redacted)
                )
            )
        )
    }

    // MARK: Bytes

    private static let methods = ["GET ", "POST ", "HEAD ", "PUT ", "OPTIONS ", "DELETE ", "PATCH "].map {
        Array($0.utf8)
    }

    private static func isRequest(_ data: UnsafeRawBufferPointer) -> Bool {
        methods.contains { method in data.count >= method.count && zip(data, method).allSatisfy { $0 == $1 } }
    }

    /// The request line's target and the `Host` header (the first one).
    private static func request(_ data: [UInt8]) -> (target: String, host: String?)? {
        let text = String(decoding: data, as: UTF8.self)
        let head = text.range(of: "\r\n\r\n").map { text[..<$0.lowerBound] } ?? text[...]
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let parts = lines.first?.split(separator: " ") ?? []
        guard parts.count >= 2 else { return nil }
        var host: String?
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == "host" else { continue }
            host = String(
                line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }.reversed()
                    .drop { $0 == " " || $0 == "\t" }.reversed()
            )
            break
        }
        return (String(parts[1]), host)
    }

    /// What answered a lookup (`cnh_lookup_source`).
    private static func source(_ raw: Int32) -> DomainLookup.Source {
        switch UInt32(bitPattern: raw) {
        case CNH_SOURCE_CACHE.rawValue: .cache
        case CNH_SOURCE_STALE.rawValue: .stale
        case CNH_SOURCE_RESOLVER.rawValue: .resolver
        case CNH_SOURCE_LITERAL.rawValue: .literal
        case CNH_SOURCE_NEGATIVE.rawValue: .negative
        default: .system
        }
    }
}
