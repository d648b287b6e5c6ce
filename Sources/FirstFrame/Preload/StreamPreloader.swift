import CoreMetrics
import FirstFrameNetwork
import Foundation
import Synchronization

/// Gets the next room of a feed on screen below the cold-open floor: the app says which rooms may come next, in
/// order of likelihood, and the preloader keeps each in the warmest state its budget allows.
///
/// - **preloaded**: the first ``Configuration/preloadedStreams`` candidates are opened ahead with the opener's knobs
///   and kept hot (each on a thread of its own): the newest keyframe decoded, its GOP held within
///   ``Configuration/bytesPerStream``. ``open(_:)`` hands the stream over: its first picture is there at once.
/// - **resolved**: the other candidates' hosts are prefetched into the opener's DNS cache (when it has one: the
///   `instant` preset's `ipv4Only` makes one) and kept fresh.
/// - **cold**: anything else.
///
/// ``open(_:)`` returns an ``OpenedStream`` whichever state the room was in; its report's
/// ``FirstFrameReport/preload`` says which, and the time from the call to the first picture. A room dropped from
/// the candidates is closed at once; one not opened within ``Configuration/idleTimeout`` is closed by its own
/// thread. ``close()`` closes them all.
///
/// ```swift
/// let preloader = try StreamPreloader(opener: StreamOpener(preset: .instant))
/// preloader.setCandidates([next, afterNext])       // as the feed scrolls
/// let stream = try await preloader.open(next)      // the user swiped
/// print(stream.report.preload!.state, stream.report.preload!.switchMs)
/// ```
public final class StreamPreloader: Sendable {
    public let opener: StreamOpener
    public let configuration: Configuration
    private let telemetry: Telemetry
    private let rooms = Mutex(Rooms())

    private struct Rooms: ~Copyable {
        var candidates: [String] = []
        /// Preloads in flight or hot, by URL.
        var slots: [String: Slot] = [:]
        /// Warm connections being made or made, by URL.
        var warm: [String: WarmSlot] = [:]
        var closed = false
    }

    /// A room's warm connection: the pool owner it is made under, what was made (nil: still connecting, or it
    /// failed), and who waits for it (``waitUntilConnected(_:)``).
    private struct WarmSlot {
        var owner: UInt64
        var finished = false
        var made: RoomConnector.Warm?
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Pool owners of the preloader's warm connections: apart from the spares' (which count up from 1), two per
    /// room (a race's two addresses).
    private static func owner(_ id: UInt64) -> UInt64 { (1 << 62) | (id << 1) }

    private enum Slot {
        /// The open is running; `waiters` are ``open(_:)`` calls for the room that arrived meanwhile: they get the
        /// room when it is hot (nil when its open failed or it was dropped).
        case opening(
            id: UInt64,
            waiters: [CheckedContinuation<PreloadedRoom?, Never>],
            watchers: [CheckedContinuation<Void, Never>]
        )
        case hot(PreloadedRoom)
    }

    /// Counts of switches by state, and the cost of rooms never opened.
    public struct Stats: Sendable, Hashable {
        public var switches: [FirstFrameReport.Preload.State: Int] = [:]
        /// Rooms closed without being opened, the bytes they read and how long they were hot.
        public var unusedRooms = 0
        public var unusedBytes: Int64 = 0
        public var unusedSeconds = 0.0
    }
    private let statistics = Mutex(Stats())
    /// Closes in flight (``closing()`` waits for them).
    private let closes = Mutex<[UInt64: Task<Void, Never>]>([:])
    private let nextID = Atomic<UInt64>(0)

    /// - Throws: ``StreamPreloaderError/invalidConfiguration(_:)`` for a budget out of range.
    public init(
        opener: StreamOpener = StreamOpener(preset: .instant),
        configuration: Configuration = Configuration(),
        telemetry: Telemetry = Telemetry()
    ) throws(StreamPreloaderError) {
        try configuration.validate()
        self.opener = opener
        self.configuration = configuration
        self.telemetry = telemetry
    }

    deinit {
        // Nothing here may hold on to `self`: the rooms are closed on a thread of their own.
        let transfer = OwnershipTransfer(unique: takeAllRooms())
        Thread {
            ThreadName.applyToCurrentThread("FirstFrame.preload")
            for room in transfer.take() { room.close() }
        }.start()
    }

    /// What has happened so far.
    public var stats: Stats { statistics.withLock { $0 } }

    /// The warmest state `url` is in now (what ``open(_:)`` would report, were it called now).
    public func state(of url: String) -> FirstFrameReport.Preload.State {
        let hot = rooms.withLock { rooms -> Bool in
            if case .hot(let room) = rooms.slots[url] { return room.stopped == nil }
            return false
        }
        if hot { return .preloaded }
        if rooms.withLock({ $0.warm[url]?.made }) != nil { return .connected }
        return isResolved(url) ? .resolved : .cold
    }

    /// The rooms that may come next, most likely first (changed as the feed scrolls): the head is preloaded, the
    /// rest resolved; rooms no longer listed are closed now.
    public func setCandidates(_ urls: [String]) {
        var seen = Set<String>()
        let ordered = urls.filter { seen.insert($0).inserted }
        let preload = Array(ordered.prefix(configuration.preloadedStreams))
        let connect =
            opener.dnsCache == nil
            ? [] : Array(ordered.dropFirst(preload.count).prefix(configuration.warmConnections))
        let (dropped, toStart) = rooms.withLock { rooms -> ([PreloadedRoom], [(String, UInt64)]) in
            guard !rooms.closed else { return ([], []) }
            rooms.candidates = ordered
            for (url, warm) in rooms.warm where !connect.contains(url) {
                rooms.warm[url] = nil
                Self.closeWarm(owner: warm.owner)
                for waiter in warm.waiters { waiter.resume() }
            }
            var dropped: [PreloadedRoom] = []
            for (url, slot) in rooms.slots {
                switch slot {
                case .hot(let room) where !preload.contains(url) || room.stopped != nil:
                    // No longer wanted, or stopped by itself (the stream ended, it idled out): closed, and opened
                    // again below if still wanted.
                    rooms.slots[url] = nil
                    dropped.append(room)
                case .opening(_, let waiters, let watchers) where !preload.contains(url):
                    rooms.slots[url] = nil
                    for waiter in waiters { waiter.resume(returning: nil) }
                    for watcher in watchers { watcher.resume() }
                default:
                    break
                }
            }
            var toStart: [(String, UInt64)] = []
            for url in preload where rooms.slots[url] == nil {
                let id = nextID.add(1, ordering: .relaxed).newValue
                rooms.slots[url] = .opening(id: id, waiters: [], watchers: [])
                toStart.append((url, id))
            }
            return (dropped, toStart)
        }
        closeUnused(dropped)
        for url in connect { startConnecting(url) }
        let hosts = ordered.dropFirst(preload.count + connect.count).compactMap { URL(string: $0)?.host }
        if let cache = opener.dnsCache, !hosts.isEmpty { cache.startPrefetch(hosts: Array(Set(hosts)).sorted()) }
        for (url, id) in toStart { startPreload(url, id: id) }
    }

    /// Opens `url`, handing over its preloaded stream when there is one (else opening it with the opener), and
    /// says in the report's ``FirstFrameReport/preload`` which state it was in and how long the switch took.
    public func open(_ url: String) async throws(OpenError) -> OpenedStream {
        let start = MonotonicClock.nanoseconds()
        let hot = await withCheckedContinuation { (continuation: CheckedContinuation<PreloadedRoom?, Never>) in
            rooms.withLock { rooms in
                switch rooms.slots[url] {
                case .hot(let room):
                    rooms.slots[url] = nil
                    continuation.resume(returning: room)
                case .opening(let id, let waiters, let watchers):
                    // Its open is under way: wait for it rather than open a second connection.
                    rooms.slots[url] = .opening(id: id, waiters: waiters + [continuation], watchers: watchers)
                case nil:
                    continuation.resume(returning: nil)
                }
            }
        }
        if let hot, let claimed = hot.claim() {
            let preload = FirstFrameReport.Preload(
                state: .preloaded,
                switchMs: Double(MonotonicClock.nanoseconds() - start) / 1e6,
                preparedMs: Double(start - hot.readySince) / 1e6,
                heldBytes: claimed.heldBytes,
                bytesReadWhilePreloaded: claimed.bytesRead
            )
            claimed.stream.describePreload(preload)
            record(preload)
            return claimed.stream
        }
        let resolved = isResolved(url)
        let warm = rooms.withLock { rooms -> WarmSlot? in
            let slot = rooms.warm.removeValue(forKey: url)
            for waiter in slot?.waiters ?? [] { waiter.resume() }
            return slot
        }
        // Whatever the open did not take of the room's warm connections is closed once it is over.
        defer { if let warm { Self.closeWarm(owner: warm.owner) } }
        let stream = try await opener.open(url)
        // `connected` when the hooks handed the open's connect a warm connection (the preloader's, or a spare).
        let handedWarm = stream.report.hops.contains { hop in hop.connects.contains { $0.warm == true } }
        let preload = FirstFrameReport.Preload(
            state: warm?.made != nil && handedWarm ? .connected : resolved ? .resolved : .cold,
            switchMs: Double(MonotonicClock.nanoseconds() - start) / 1e6
        )
        stream.describePreload(preload)
        record(preload)
        return stream
    }

    /// Closes every room and stops preloading; later ``setCandidates(_:)`` calls do nothing. Idempotent.
    public func close() {
        closeUnused(takeAllRooms())
    }

    /// Empties the slots for good (later candidates are ignored); waiting opens get nil.
    private func takeAllRooms() -> [PreloadedRoom] {
        rooms.withLock { rooms -> [PreloadedRoom] in
            rooms.closed = true
            let hot = rooms.slots.values.compactMap { slot -> PreloadedRoom? in
                if case .hot(let room) = slot { return room }
                return nil
            }
            for case .opening(_, let waiters, let watchers) in rooms.slots.values {
                for waiter in waiters { waiter.resume(returning: nil) }
                for watcher in watchers { watcher.resume() }
            }
            rooms.slots = [:]
            for warm in rooms.warm.values {
                Self.closeWarm(owner: warm.owner)
                for waiter in warm.waiters { waiter.resume() }
            }
            rooms.warm = [:]
            return hot
        }
    }

    // MARK: Inside

    private func isResolved(_ url: String) -> Bool {
        guard let host = URL(string: url)?.host, let cache = opener.dnsCache else { return false }
        return cache.cachedHosts.contains(host)
    }

    /// Makes the room's warm connection (``RoomConnector``), unless it has one or is making one.
    private func startConnecting(_ url: String) {
        guard let cache = opener.dnsCache else { return }
        let owner = rooms.withLock { rooms -> UInt64? in
            guard !rooms.closed, rooms.warm[url] == nil else { return nil }
            let owner = Self.owner(nextID.add(1, ordering: .relaxed).newValue)
            rooms.warm[url] = WarmSlot(owner: owner)
            return owner
        }
        guard let owner else { return }
        let connector = RoomConnector(
            cache: cache,
            timeout: configuration.connectTimeout,
            idle: configuration.idleTimeout,
            raceEdges: configuration.raceEdges
        )
        Task { [weak self] in
            let (made, attempts) = await connector.connect(url, owner: owner)
            self?.track(Task { for attempt in attempts { await attempt.value } })
            let kept = self?.rooms.withLock { rooms -> Bool in
                guard var current = rooms.warm[url], current.owner == owner else { return false }
                current.finished = true
                current.made = made
                for waiter in current.waiters { waiter.resume() }
                current.waiters = []
                rooms.warm[url] = current
                return true
            }
            if kept != true { Self.closeWarm(owner: owner) }
        }
    }

    /// Closes the warm connections made under `owner` (both addresses of a race).
    private static func closeWarm(owner: UInt64) {
        WarmConnections.shared.close(owner: owner)
        WarmConnections.shared.close(owner: owner + 1)
    }

    /// Waits until the warm connection of `url` under way is made (or has failed, or the room was dropped);
    /// whether the room has one then.
    public func waitUntilConnected(_ url: String) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = rooms.withLock { rooms -> Bool in
                guard var slot = rooms.warm[url], !slot.finished else { return true }
                slot.waiters.append(continuation)
                rooms.warm[url] = slot
                return false
            }
            if resumeNow { continuation.resume() }
        }
        return rooms.withLock { $0.warm[url]?.made } != nil
    }

    /// Opens the room on the opener's own thread; when it is still wanted, keeps it hot, else closes it.
    private func startPreload(_ url: String, id: UInt64) {
        let opener = self.opener
        let budget = configuration.bytesPerStream
        let idle = configuration.idleTimeout
        Task { [weak self] in
            let stream = try? await opener.open(url)
            guard let self else {
                stream?.close()
                return
            }
            let room = stream.map { PreloadedRoom(url: url, stream: $0, byteBudget: budget, idle: idle) }
            let kept = self.rooms.withLock { rooms -> Bool in
                guard case .opening(let current, let waiters, let watchers) = rooms.slots[url], current == id else {
                    return false
                }
                defer { for watcher in watchers { watcher.resume() } }
                if let waiter = waiters.first, let room {
                    // Someone is opening it now: theirs (one opener per room; any others open it themselves).
                    rooms.slots[url] = nil
                    waiter.resume(returning: room)
                    for other in waiters.dropFirst() { other.resume(returning: nil) }
                    return true
                }
                for waiter in waiters { waiter.resume(returning: nil) }
                rooms.slots[url] = room.map { .hot($0) }
                return room != nil
            }
            if !kept, let room { self.closeUnused([room]) }
        }
    }

    /// Closes rooms nobody opened, off the caller's thread (closing an input may block), counting their cost.
    private func closeUnused(_ dropped: [PreloadedRoom]) {
        guard !dropped.isEmpty else { return }
        let now = MonotonicClock.nanoseconds()
        var bytes: Int64 = 0
        for room in dropped { bytes += max(0, room.stream.bytesRead) }
        let seconds = dropped.map { Double(now - $0.readySince) / 1e9 }
        statistics.withLock { stats in
            stats.unusedRooms += dropped.count
            stats.unusedBytes += bytes
            stats.unusedSeconds += seconds.reduce(0, +)
        }
        let factory = telemetry.factory
        Counter(label: MetricNames.preloadUnusedBytes, factory: factory).increment(by: Int64(clamping: bytes))
        let timer = Timer(label: MetricNames.preloadUnusedSeconds, preferredDisplayUnit: .seconds, factory: factory)
        for value in seconds { timer.recordNanoseconds(Int64(value * 1e9)) }
        let transfer = OwnershipTransfer(unique: dropped)
        let id = nextID.add(1, ordering: .relaxed).newValue
        // Inserted under the lock the task takes to remove itself: a close that ends at once is still removed.
        closes.withLock { tasks in
            tasks[id] = Task {
                _ = try? await DedicatedThread.run(name: "FirstFrame.preload") {
                    for room in transfer.take() { room.close() }
                }
                self.closes.withLock { $0[id] = nil }
            }
        }
    }

    /// Keeps `task` (a close, a race's loser) until it ends, for ``closing()``.
    private func track(_ task: Task<Void, Never>) {
        let id = nextID.add(1, ordering: .relaxed).newValue
        closes.withLock { $0[id] = task }
        Task {
            await task.value
            self.closes.withLock { $0[id] = nil }
        }
    }

    /// Returns once every room dropped so far is closed (its thread ended, its input and sockets freed) and every
    /// warm connect under way has ended.
    package func closing() async {
        let tasks = closes.withLock { Array($0.values) }
        for task in tasks { await task.value }
    }

    /// Waits for the preload of `url` under way to finish (hot, or failed), and returns the state the room is in
    /// then: what ``open(_:)`` would report. Returns at once when no preload of it is under way.
    public func waitUntilPrepared(_ url: String) async -> FirstFrameReport.Preload.State {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = rooms.withLock { rooms -> Bool in
                guard case .opening(let id, let waiters, let watchers) = rooms.slots[url] else { return true }
                rooms.slots[url] = .opening(id: id, waiters: waiters, watchers: watchers + [continuation])
                return false
            }
            if resumeNow { continuation.resume() }
        }
        return state(of: url)
    }

    /// The hot room of `url`, if there is one.
    package func hotRoom(_ url: String) -> PreloadedRoom? {
        rooms.withLock { rooms in
            if case .hot(let room) = rooms.slots[url] { return room }
            return nil
        }
    }

    /// Waits until the hot room of `url` stops by itself (its stream ended, it idled out) or is claimed or closed.
    package func waitUntilRoomStops(_ url: String) async -> PreloadedRoom.Stop? {
        let room = rooms.withLock { rooms -> PreloadedRoom? in
            if case .hot(let room) = rooms.slots[url] { return room }
            return nil
        }
        return await room?.waitUntilStopped()
    }

    private func record(_ preload: FirstFrameReport.Preload) {
        statistics.withLock { $0.switches[preload.state, default: 0] += 1 }
        let factory = telemetry.factory
        let dimensions = [("state", preload.state.rawValue)]
        Counter(label: MetricNames.preloadSwitches, dimensions: dimensions, factory: factory).increment()
        Timer(
            label: MetricNames.preloadSwitchSeconds,
            dimensions: dimensions,
            preferredDisplayUnit: .seconds,
            factory: factory
        )
        .recordNanoseconds(Int64(preload.switchMs * 1e6))
    }
}
