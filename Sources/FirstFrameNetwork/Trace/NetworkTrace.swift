import CNetworkHooks
import FirstFrameCore

/// What FFmpeg (or any code on the thread) did on the network while a trace was on: every lookup, every
/// connect attempt, the TLS handshake, requests and responses, organised as ``hops``.
///
/// ```swift
/// let (status, trace) = NetworkTrace.capture {
///     avformat_open_input(&context, url, nil, nil)   // your own call, on this thread
/// }
/// for hop in trace.hops { print(hop.host ?? "?", hop.lookup?.duration, hop.status) }
/// ```
///
/// Tracing is per thread: the hooks record only calls made on the thread that runs the closure, so the
/// blocking FFmpeg call must run on it (not hop to another thread). Threads that are not tracing pay one
/// thread-local load and a branch per hooked call.
public struct NetworkTrace: Sendable, Codable {
    /// `MonotonicClock` nanoseconds when tracing started and stopped.
    public var start: UInt64
    public var end: UInt64
    package var events: [NetworkEvent]
    /// Events lost because memory could not be allocated (normally 0).
    public var droppedEvents: Int
    /// The events grouped by request: each HTTP request, redirect, playlist or segment, or RTMP connection.
    public var hops: [NetworkHop]
    /// Per hop, the indices in ``events`` of the reads that carried its response (a kept-alive connection's later
    /// responses belong to the later hops).
    package private(set) var responseReads: [[Int]]
    /// What the playlists among the hops say (HLS), read once with the hops.
    package private(set) var playlists: HLSPlaylistReading

    /// Whether the hooks interpose libc in this build (Linux, not under a sanitizer). Elsewhere traces are empty
    /// and the DNS cache cannot answer FFmpeg's lookups.
    public static var isAvailable: Bool { cnh_hooks_active() != 0 }

    /// How many bytes of each request and response head are kept (enough for a status line and `Location`).
    public static let defaultCaptureBytesPerTurn = 4096

    package init(start: UInt64, end: UInt64, events: [NetworkEvent], droppedEvents: Int = 0) {
        self.init(
            start: start,
            end: end,
            events: events,
            droppedEvents: droppedEvents,
            interpreter: TraceInterpreter(events: events)
        )
    }

    /// The trace of `events`, which `interpreter` has applied (all of them, in order): its hops, each with its HLS
    /// role when the trace read a playlist.
    package init(
        start: UInt64,
        end: UInt64,
        events: [NetworkEvent],
        droppedEvents: Int = 0,
        interpreter: TraceInterpreter
    ) {
        precondition(interpreter.eventCount == events.count, "the interpreter applied other events")
        self.start = start
        self.end = end
        self.events = events
        self.droppedEvents = droppedEvents
        hops = interpreter.hops
        responseReads = interpreter.responseReads
        playlists = HLSPlaylistReading(hops: hops, responseReads: responseReads, events: events)
        for index in hops.indices { hops[index].role = playlists.roles[index] }
    }

    private enum CodingKeys: String, CodingKey { case start, end, events, droppedEvents, hops }

    /// The hops and what they carried are assembled again from the events.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            start: try container.decode(UInt64.self, forKey: .start),
            end: try container.decode(UInt64.self, forKey: .end),
            events: try container.decode([NetworkEvent].self, forKey: .events),
            droppedEvents: try container.decode(Int.self, forKey: .droppedEvents)
        )
    }

    /// The reads that carried `hop`'s response, in order.
    package func responseEvents(of hop: NetworkHop) -> [NetworkEvent] {
        responseReads.indices.contains(hop.index) ? responseReads[hop.index].map { events[$0] } : []
    }

    /// The socket of the last hop's connection when it is still open at the end of the trace: where a single
    /// connection's stream goes on being read.
    package var lastHopOpenSocket: Int32? {
        guard let hop = hops.last, hop.closed == nil else { return nil }
        return hop.establishedConnect?.fd
    }

    /// The last status line the trace read (of the last hop that has one) when it is one FFmpeg's http takes for
    /// a body to stream but that is the server's error: FFmpeg reads any number after the first space of the
    /// first line as the status (0 for none) and streams the body of whatever is not 4xx/5xx (3xx it follows), so
    /// a line that is not HTTP (or ICY), or a status that is 1xx or past 599, is such a line. With its status when
    /// it has one.
    package var unusableStatusLine: (line: String, status: Int?)? {
        guard let hop = hops.last(where: { $0.statusLine != nil }), let line = hop.statusLine else { return nil }
        let status =
            hop.status
            ?? (line.hasPrefix("ICY ") ? line.split(separator: " ").dropFirst().first.flatMap { Int($0) } : nil)
        if let status, (200...599).contains(status) { return nil }
        return (line, status)
    }

    /// Runs `body` on the current thread with tracing on, and returns its result with the trace.
    ///
    /// Captures nest: an inner capture's events also appear in the enclosing one. When a ``DNSCache`` is
    /// installed, connect attempts that failed are reported to it (it observes every outermost capture), so the
    /// next lookup puts that address last.
    public static func capture<Result>(
        captureBytesPerTurn: Int = defaultCaptureBytesPerTurn,
        _ body: () throws -> Result
    ) rethrows -> (result: Result, trace: NetworkTrace) {
        try capture(captureBytesPerTurn: captureBytesPerTurn, quickAck: false, body)
    }

    /// Runs `body` on the current thread with tracing on and, with `quickAck`, the sockets it receives on
    /// acknowledging at once; returns its result with the trace.
    ///
    /// With `quickAck` (Linux), every receive the trace sees re-arms `TCP_QUICKACK` on its socket, so a peer that
    /// writes small pieces under Nagle (nginx-rtmp's command answers) does not wait for this side's delayed ACK
    /// (~40 ms) between them. Linux drops a socket out of quick-ACK mode on its own, hence every receive. It
    /// applies only while the capture runs: a socket kept open after `body` returns is left as the kernel has it.
    /// A capture begun inside one with `quickAck` on inherits it, whatever it asks for.
    public static func capture<Result>(
        captureBytesPerTurn: Int = defaultCaptureBytesPerTurn,
        quickAck: Bool,
        _ body: () throws -> Result
    ) rethrows -> (result: Result, trace: NetworkTrace) {
        try capture(captureBytesPerTurn: captureBytesPerTurn, quickAck: quickAck, live: LiveTrace(), body)
    }

    /// Runs `body` on the current thread with tracing on and its connects under `connectPolicy` (warm connections
    /// handed over, spares opened after the first connect to an address, slow connects hedged; the spares left
    /// unused are closed when `body` returns); returns its result with the trace. A capture begun inside it keeps
    /// the policy.
    public static func capture<Result>(
        captureBytesPerTurn: Int = defaultCaptureBytesPerTurn,
        quickAck: Bool = false,
        connectPolicy: ConnectPolicy,
        _ body: () throws -> Result
    ) rethrows -> (result: Result, trace: NetworkTrace) {
        try capture(
            captureBytesPerTurn: captureBytesPerTurn,
            quickAck: quickAck,
            connectPolicy: connectPolicy,
            live: LiveTrace(),
            body
        )
    }

    /// ``capture(captureBytesPerTurn:quickAck:_:)`` read as it runs by `live` (whose interpreter's hops the trace
    /// returned is made of), and told when it ends to `observer` as well as to the observers registered for every
    /// capture (``NetworkTraceObservers``), each once.
    package static func capture<Result>(
        captureBytesPerTurn: Int = defaultCaptureBytesPerTurn,
        quickAck: Bool,
        connectPolicy: ConnectPolicy? = nil,
        live: LiveTrace,
        observer: (any NetworkTraceObserver)? = nil,
        _ body: () throws -> Result
    ) rethrows -> (result: Result, trace: NetworkTrace) {
        let recorder = NetworkTraceRecorder(
            captureBytesPerTurn: captureBytesPerTurn,
            quickAck: quickAck,
            connectPolicy: connectPolicy,
            live: live,
            observer: observer
        )
        let result: Result
        do {
            result = try body()
        } catch {
            _ = recorder.stop()
            throw error
        }
        return (result, recorder.stop())
    }

    /// Adds a labelled instant to the current thread's trace (e.g. "open requested"), if it is tracing.
    public static func mark(_ label: String) {
        cnh_trace_mark(label)
    }

    /// Milliseconds from the start of the trace to `time` (a `MonotonicClock` value).
    public func milliseconds(at time: UInt64) -> Double {
        Double(Int64(bitPattern: time &- start)) / 1_000_000
    }

    /// The marks recorded with ``mark(_:)``, in order.
    public var marks: [(label: String, time: UInt64)] {
        events.filter { $0.kind == .mark }.map { (String(decoding: $0.data, as: UTF8.self), $0.time) }
    }
}
