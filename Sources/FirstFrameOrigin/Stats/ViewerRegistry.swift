import Synchronization

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

    func stats(standard: LiveChannel, channels: [LiveChannel]) -> OriginStats {
        // Read the channels outside the registry's lock: each takes its own.
        let channelStats = channels.map { ChannelStats($0, viewers: 0) }
        let tagsEmitted = standard.tagsEmitted
        let channelTime = standard.channelTime
        return state.withLock { state in
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
                viewers: viewers,
                channels: channelStats.map { channel in
                    var channel = channel
                    channel.viewers = viewers.count { $0.channel == channel.name }
                    return channel
                }
            )
        }
    }
}
