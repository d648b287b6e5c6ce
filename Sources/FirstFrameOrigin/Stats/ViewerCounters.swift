import FirstFrameCore
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
    /// `MonotonicClock` nanoseconds of the first body write and of the first video keyframe's (0: not yet).
    let firstBodyWrite = Atomic<UInt64>(0)
    let firstKeyframeWrite = Atomic<UInt64>(0)

    init(id: Int, path: String, channel: String, mode: JoinMode) {
        self.id = id
        self.path = path
        self.channel = channel
        self.mode = mode
    }

    var snapshot: ViewerStats {
        ViewerStats(
            id: id,
            path: path,
            channel: channel,
            mode: mode,
            bytesSent: bytesSent.load(ordering: .relaxed),
            tagsDropped: tagsDropped.load(ordering: .relaxed),
            dropEvents: dropEvents.load(ordering: .relaxed),
            firstBodyWriteNs: Self.instant(firstBodyWrite),
            firstKeyframeWriteNs: Self.instant(firstKeyframeWrite)
        )
    }

    private static func instant(_ value: borrowing Atomic<UInt64>) -> UInt64? {
        let time = value.load(ordering: .relaxed)
        return time == 0 ? nil : time
    }

    /// Stamps the first body write with now, the first time only.
    func bodyWritten() {
        _ = firstBodyWrite.compareExchange(expected: 0, desired: MonotonicClock.nanoseconds(), ordering: .relaxed)
    }

    /// Stamps the first keyframe write with now, the first time only.
    func keyframeWritten() {
        _ = firstKeyframeWrite.compareExchange(expected: 0, desired: MonotonicClock.nanoseconds(), ordering: .relaxed)
    }
}
