import Synchronization

/// Counters a client's handler updates on its event loop and `stats()` reads from anywhere.
final class ViewerCounters: Sendable {
    let id: Int
    let path: String
    let channel: String
    let mode: JoinMode
    let bytesSent = Atomic<Int>(0)
    let tagsDropped = Atomic<Int>(0)
    let dropEvents = Atomic<Int>(0)

    init(id: Int, path: String, channel: String, mode: JoinMode) {
        self.id = id
        self.path = path
        self.channel = channel
        self.mode = mode
    }

    var snapshot: ViewerStats {
        ViewerStats(
            id: id, path: path, channel: channel, mode: mode,
            bytesSent: bytesSent.load(ordering: .relaxed),
            tagsDropped: tagsDropped.load(ordering: .relaxed),
            dropEvents: dropEvents.load(ordering: .relaxed))
    }
}
