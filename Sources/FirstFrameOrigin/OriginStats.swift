import Synchronization

/// A snapshot of what the origin has served.
public struct OriginStats: Sendable, Codable, Equatable {
    /// Clients currently connected with a stream request.
    public var activeViewers: Int
    /// Stream requests served since start (including finished ones).
    public var totalViewers: Int
    /// The most clients connected with a stream request at one time.
    public var peakActiveViewers: Int
    /// Body bytes sent to all clients since start.
    public var bytesSent: Int
    /// Tags not sent to slow clients since start.
    public var tagsDropped: Int
    /// Times a client fell behind and was moved on to the next keyframe.
    public var dropEvents: Int
    /// Tags the channel clock has emitted.
    public var tagsEmitted: Int
    /// Milliseconds since the channel started.
    public var channelTimeMilliseconds: UInt64
    public var viewers: [ViewerStats]
}

/// One connected client.
public struct ViewerStats: Sendable, Codable, Equatable {
    public var id: Int
    public var path: String
    public var mode: JoinMode
    public var bytesSent: Int
    public var tagsDropped: Int
    public var dropEvents: Int
}

/// Counters a client's handler updates on its event loop and `stats()` reads from anywhere.
final class ViewerCounters: Sendable {
    let id: Int
    let path: String
    let mode: JoinMode
    let bytesSent = Atomic<Int>(0)
    let tagsDropped = Atomic<Int>(0)
    let dropEvents = Atomic<Int>(0)

    init(id: Int, path: String, mode: JoinMode) {
        self.id = id
        self.path = path
        self.mode = mode
    }

    var snapshot: ViewerStats {
        ViewerStats(
            id: id, path: path, mode: mode,
            bytesSent: bytesSent.load(ordering: .relaxed),
            tagsDropped: tagsDropped.load(ordering: .relaxed),
            dropEvents: dropEvents.load(ordering: .relaxed))
    }
}

/// The viewers the origin is serving, and the totals of those that have left.
final class ViewerRegistry: Sendable {
    private struct State {
        var active: [Int: ViewerCounters] = [:]
        var total = 0
        var peak = 0
        var retiredBytes = 0
        var retiredDrops = 0
        var retiredDropEvents = 0
    }

    private let state = Mutex(State())
    private let nextID = Atomic<Int>(1)

    func makeID() -> Int { nextID.wrappingAdd(1, ordering: .relaxed).oldValue }

    func add(_ counters: ViewerCounters) {
        state.withLock {
            $0.active[counters.id] = counters
            $0.total += 1
            $0.peak = max($0.peak, $0.active.count)
        }
    }

    func remove(_ counters: ViewerCounters) {
        let final = counters.snapshot
        state.withLock {
            guard $0.active.removeValue(forKey: counters.id) != nil else { return }
            $0.retiredBytes += final.bytesSent
            $0.retiredDrops += final.tagsDropped
            $0.retiredDropEvents += final.dropEvents
        }
    }

    func stats(tagsEmitted: Int, channelTime: UInt64) -> OriginStats {
        state.withLock { state in
            let viewers = state.active.values.map(\.snapshot).sorted { $0.id < $1.id }
            return OriginStats(
                activeViewers: viewers.count,
                totalViewers: state.total,
                peakActiveViewers: state.peak,
                bytesSent: state.retiredBytes + viewers.reduce(0) { $0 + $1.bytesSent },
                tagsDropped: state.retiredDrops + viewers.reduce(0) { $0 + $1.tagsDropped },
                dropEvents: state.retiredDropEvents + viewers.reduce(0) { $0 + $1.dropEvents },
                tagsEmitted: tagsEmitted,
                channelTimeMilliseconds: channelTime,
                viewers: viewers)
        }
    }
}
