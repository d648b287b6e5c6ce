import FirstFrameFFmpeg
import NIOCore
import Synchronization

/// The one clock of a live channel: emits the program's tags at their times, loops it with growing
/// timestamps, keeps the current GOP, and fans each batch out to every joined viewer.
///
/// Every client of the channel sees the same tags at the same moment (a live channel, not a file per client).
/// Each named channel has a clock, a GOP cache and viewers of its own, even when it shares its program with
/// other names. The clock runs on one event loop; viewers are grouped by their own loops so a batch costs one
/// hop per loop, not one per client.
final class LiveChannel: Sendable {
    let name: ChannelName
    let program: ChannelProgram
    /// What the channel's connections sent, when the origin logs it (``OriginConfiguration/logsSentTags``).
    let sentLog: SentLog?
    private let clockLoop: any EventLoop
    private let startTime: NIODeadline
    /// One pass of the media, encoded once with loop-relative timestamps.
    private let loopTags: [(tag: FLVTag, bytes: ByteBuffer, packet: PacketDigest?)]
    private let state: Mutex<State>

    private struct ViewerEntry: Sendable {
        let id: Int
        let viewer: NIOLoopBound<any ChannelViewer>
    }

    private struct LoopGroup: Sendable {
        let loop: any EventLoop
        var viewers: [ViewerEntry]
    }

    private struct State: Sendable {
        var groups: [LoopGroup] = []
        /// Tags since (and including) the latest video keyframe; empty until the first keyframe.
        var gop: [EmittedTag] = []
        /// Channel time of the latest emitted tag.
        var liveEdge: UInt32 = 0
        var pass: UInt64 = 0
        var nextIndex = 0
        var tagsEmitted = 0
        var scheduled: Scheduled<Void>?
        var stopped = false
        /// Ended by ``end()``: the clock is stopped and nobody may join any more.
        var ended = false
    }

    init(name: ChannelName, prepared: PreparedProgram, clockLoop: any EventLoop, sentLogCapacity: Int? = nil) {
        self.name = name
        self.program = prepared.program
        self.sentLog = sentLogCapacity.map(SentLog.init(capacity:))
        self.clockLoop = clockLoop
        self.startTime = .now()
        self.loopTags = prepared.loopTags
        self.state = Mutex(State())
    }

    /// Starts the clock: tags are due at `start + channel time`, so lateness never accumulates.
    func start() {
        clockLoop.execute { self.tick() }
    }

    func stop() {
        let scheduled = state.withLock { state in
            state.stopped = true
            return state.scheduled
        }
        scheduled?.cancel()
    }

    /// Milliseconds since the channel started.
    var channelTime: UInt64 {
        UInt64(max(0, (NIODeadline.now() - startTime).nanoseconds / 1_000_000))
    }

    var tagsEmitted: Int { state.withLock { $0.tagsEmitted } }

    var hasEnded: Bool { state.withLock { $0.ended } }

    /// Viewers joined now (the origin's statistics count connections instead; this is the channel's own view).
    var viewerCount: Int { state.withLock { $0.groups.reduce(0) { $0 + $1.viewers.count } } }

    /// Ends the channel, as when its broadcaster stops: the clock stops, every viewer is told on its own loop
    /// (``ChannelViewer/channelEnded()``, between two tags, so each response can end on a tag boundary), and
    /// nobody can join any more. Call while the viewers' event loops run (not during shutdown: see ``stop()``).
    func end() {
        let (groups, scheduled) = state.withLock { state in
            state.stopped = true
            state.ended = true
            defer { state.groups = [] }
            return (state.groups, state.scheduled)
        }
        scheduled?.cancel()
        for group in groups {
            let viewers = group.viewers
            group.loop.execute {
                for entry in viewers { entry.viewer.value.channelEnded() }
            }
        }
    }

    /// Joins `viewer` (call on its event loop): returns the cached GOP and the live edge at the moment of
    /// joining, or `nil` when the channel has ended. Every tag emitted later is delivered to the viewer; none
    /// is both in the snapshot and delivered.
    func join(id: Int, viewer: NIOLoopBound<any ChannelViewer>) -> (gop: [EmittedTag], liveEdge: UInt32)? {
        let loop = viewer.eventLoop
        return state.withLock { state in
            guard !state.ended else { return nil }
            let entry = ViewerEntry(id: id, viewer: viewer)
            if let index = state.groups.firstIndex(where: { $0.loop === loop }) {
                state.groups[index].viewers.append(entry)
            } else {
                state.groups.append(LoopGroup(loop: loop, viewers: [entry]))
            }
            return (state.gop, state.liveEdge)
        }
    }

    func leave(id: Int) {
        state.withLock { state in
            for index in state.groups.indices {
                state.groups[index].viewers.removeAll { $0.id == id }
            }
            state.groups.removeAll { $0.viewers.isEmpty }
        }
    }

    /// The start of every response: FLV header, `onMetaData` and the sequence headers.
    ///
    /// The sequence headers are stamped `timestamp` so that they never run backwards against the first
    /// frame that follows. `onMetaData` stays at 0: FFmpeg's FLV demuxer reads it as stream metadata only
    /// at time 0, and turns a later one into a spurious data stream.
    func preamble(timestamp: UInt32) -> ByteBuffer {
        var bytes = program.header.encoded()
        if let metadata = program.metadata { bytes += metadata.encoded(timestamp: 0) }
        for header in program.sequenceHeaders { bytes += header.encoded(timestamp: timestamp) }
        return ByteBuffer(bytes: bytes)
    }

    private func tick() {
        let now = channelTime
        let loop = UInt64(program.loopMilliseconds)
        var batch: [EmittedTag] = []
        let (groups, nextDue): ([LoopGroup], UInt64?) = state.withLock { state in
            guard !state.stopped else { return ([], nil) }
            while true {
                let (tag, bytes, packet) = loopTags[state.nextIndex]
                let due = state.pass * loop + UInt64(tag.timestamp)
                guard due <= now else { break }
                let timestamp = UInt32(truncatingIfNeeded: due)
                let stamped = EmittedTag(
                    kind: tag.kind,
                    timestamp: timestamp,
                    isKeyframe: tag.isKeyframe,
                    bytes: Self.restamp(bytes, to: timestamp),
                    packet: packet.map { Self.restamp($0, to: timestamp) }
                )
                // The cache always starts on a keyframe; what comes before the channel's first one is not cached.
                if stamped.isKeyframe { state.gop.removeAll(keepingCapacity: true) }
                if stamped.isKeyframe || !state.gop.isEmpty { state.gop.append(stamped) }
                state.liveEdge = stamped.timestamp
                state.tagsEmitted += 1
                batch.append(stamped)
                state.nextIndex += 1
                if state.nextIndex == loopTags.count {
                    state.nextIndex = 0
                    state.pass += 1
                }
            }
            let next = state.pass * loop + UInt64(loopTags[state.nextIndex].tag.timestamp)
            return (batch.isEmpty ? [] : state.groups, next)
        }
        guard let nextDue else { return }
        for group in groups {
            let viewers = group.viewers
            let tags = batch
            group.loop.execute {
                for entry in viewers { entry.viewer.value.deliver(tags) }
            }
        }
        let deadline = startTime + .milliseconds(Int64(nextDue))
        let scheduled = clockLoop.scheduleTask(deadline: deadline) { self.tick() }
        let stopped = state.withLock { state in
            state.scheduled = scheduled
            return state.stopped
        }
        if stopped { scheduled.cancel() }
    }

    private static func restamp(_ packet: PacketDigest, to timestamp: UInt32) -> PacketDigest {
        var copy = packet
        copy.milliseconds = Int64(timestamp)
        return copy
    }

    /// A copy of `bytes` with the tag timestamp set (24 low bits, then the extension byte).
    private static func restamp(_ bytes: ByteBuffer, to timestamp: UInt32) -> ByteBuffer {
        var copy = bytes
        let base = copy.readerIndex + FLVTag.timestampOffset
        copy.setBytes(
            [
                UInt8(timestamp >> 16 & 0xFF), UInt8(timestamp >> 8 & 0xFF), UInt8(timestamp & 0xFF),
                UInt8(timestamp >> 24),
            ],
            at: base
        )
        return copy
    }
}
