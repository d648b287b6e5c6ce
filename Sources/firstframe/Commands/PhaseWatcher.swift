import FirstFrame
import FirstFrameFFmpeg
import Foundation
import Synchronization

/// One extra connection to the URL being measured, opened with the library and kept, whose packets are read on a
/// thread of its own: it notes the wall time of each video keyframe (``GOPClock``), so that `probe` and `sweep`
/// know the edge's GOP phase at any instant without asking the server. On a GOP-cache edge an open's time depends
/// on that phase (a preset that reads N frames gets them at once when the cache already holds N, and waits for
/// real time otherwise), so the commands start opens at chosen phases and report the phase each open met.
///
/// It learns the GOP from two keyframe intervals after the cached burst (about two GOPs); it gives up when the
/// connection fails or ends, after ``maximumKeyframesWithoutRhythm`` keyframes without a regular interval (an HLS
/// playlist's segments arrive in bursts), or ``learningDeadline`` seconds after its open.
final class PhaseWatcher: Sendable {
    /// What the watcher learned: the clock, or why there is none.
    enum Learning: Sendable {
        case learned(GOPClock)
        case failed(String)
    }

    private struct State {
        var clock = GOPClock()
        var stream: OpenedStream?
        /// Why the watcher cannot tell phases (set once, only while nothing was learned).
        var failure: String?
        /// Why the connection ended, after the clock was learned: phases after it are extrapolated.
        var ended: String?
        var endedAtNs: UInt64?
        var stopped = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var deadline: Task<Void, Never>?
    }

    /// Seconds from the watcher's first picture to a regular keyframe interval before it gives up (a GOP of up to
    /// about 5 s can be learned).
    static let learningDeadline = 12.0
    /// Keyframes read without a regular interval before it gives up.
    static let maximumKeyframesWithoutRhythm = 8

    let url: String
    private let knobs: TuningKnobs
    private let state = Mutex(State())

    /// A watcher of `url` that will open it with `knobs` (those of the opens it paces: they are known to open it).
    init(url: String, knobs: TuningKnobs) {
        self.url = url
        self.knobs = knobs
    }

    deinit { stop() }

    /// Opens the watching connection (up to its first picture) and starts reading it; returns once it is open, or
    /// has failed (``learning()`` then says why).
    func start() async {
        let opener: StreamOpener
        do {
            opener = try StreamOpener(knobs: knobs, presetName: "phase-watcher")
        } catch {
            fail("its knobs are invalid: \(error)")
            return
        }
        let stream: OpenedStream
        do {
            stream = try await opener.open(url)
        } catch {
            fail("its connection did not open (\(error))")
            return
        }
        let stopped = state.withLock { state -> Bool in
            guard !state.stopped else { return true }
            state.stream = stream
            state.deadline = Task { [weak self] in
                guard (try? await Task.sleep(for: .seconds(Self.learningDeadline))) != nil else { return }
                self?.fail(String(format: "no regular keyframe interval within %.0f s", Self.learningDeadline))
            }
            return false
        }
        if stopped {
            stream.close()
            return
        }
        let thread = Thread { [self] in
            ThreadName.applyToCurrentThread("firstframe.phase-watcher")
            read(stream)
        }
        thread.start()
    }

    /// Waits until the GOP is learned or the watcher has given up.
    func learning() async -> Learning {
        while true {
            if let learning = currentLearning { return learning }
            await withCheckedContinuation { continuation in
                let waiting = state.withLock { state -> Bool in
                    guard state.failure == nil, !state.clock.isLearned else { return false }
                    state.waiters.append(continuation)
                    return true
                }
                if !waiting { continuation.resume() }
            }
        }
    }

    /// The learned clock (its latest anchor and length), nil before or without one.
    var clock: GOPClock? { state.withLock { $0.clock.isLearned ? $0.clock : nil } }

    /// Why the connection ended after the clock was learned, and when (`MonotonicClock`): phases after it are
    /// extrapolated from its last keyframe. Nil while it runs.
    var ending: (reason: String, atNs: UInt64)? {
        state.withLock { state in state.ended.flatMap { reason in state.endedAtNs.map { (reason, $0) } } }
    }

    /// Closes the connection (its reading thread ends within FFmpeg's 100 ms poll). Idempotent.
    func stop() {
        let (stream, deadline, waiters) = state.withLock { state in
            state.stopped = true
            if state.failure == nil && !state.clock.isLearned { state.failure = "stopped" }
            defer {
                state.stream = nil
                state.deadline = nil
                state.waiters = []
            }
            return (state.stream, state.deadline, state.waiters)
        }
        deadline?.cancel()
        stream?.close()
        for waiter in waiters { waiter.resume() }
    }

    private var currentLearning: Learning? {
        state.withLock { state in
            if state.clock.isLearned { return .learned(state.clock) }
            return state.failure.map { .failed($0) }
        }
    }

    // MARK: The reading thread

    private func read(_ stream: OpenedStream) {
        let video = stream.videoStreamIndex
        var keyframes = 0
        while true {
            let packet: Packet?
            do {
                packet = try stream.readPacket()
            } catch {
                ended("its connection ended (\(error.reason): \(error.message))")
                return
            }
            guard let packet else {
                ended("its connection ended (\(stream.end.map { "\($0.reason): \($0.message)" } ?? "end of input"))")
                return
            }
            guard packet.streamIndex == video, packet.isKeyframe else { continue }
            let now = MonotonicClock.nanoseconds()
            keyframes += 1
            observe(now, timestampMs: packet.dtsSeconds.map { $0 * 1000 }, keyframes: keyframes)
        }
    }

    private func observe(_ wallNs: UInt64, timestampMs: Double?, keyframes: Int) {
        let (waiters, deadline) = state.withLock { state -> ([CheckedContinuation<Void, Never>], Task<Void, Never>?) in
            let wasLearned = state.clock.isLearned
            state.clock.observe(keyframeAt: wallNs, timestampMs: timestampMs)
            if !wasLearned && state.clock.isLearned {
                defer {
                    state.waiters = []
                    state.deadline = nil
                }
                return (state.waiters, state.deadline)
            }
            return ([], nil)
        }
        deadline?.cancel()
        for waiter in waiters { waiter.resume() }
        if keyframes >= Self.maximumKeyframesWithoutRhythm && clock == nil {
            fail(
                "no regular keyframe interval in \(keyframes) keyframes (they arrive in bursts, or at irregular times)"
            )
        }
    }

    /// The watcher gives up learning (nothing changes once the clock is learned).
    private func fail(_ reason: String) {
        let (stream, waiters) = state.withLock { state -> (OpenedStream?, [CheckedContinuation<Void, Never>]) in
            guard state.failure == nil, !state.clock.isLearned else { return (nil, []) }
            state.failure = reason
            defer {
                state.stream = nil
                state.waiters = []
                state.deadline = nil
            }
            return (state.stream, state.waiters)
        }
        stream?.close()
        for waiter in waiters { waiter.resume() }
    }

    private func ended(_ reason: String) {
        let learned = state.withLock { state -> Bool in
            guard state.clock.isLearned else { return false }
            if state.ended == nil && !state.stopped {
                state.ended = reason
                state.endedAtNs = MonotonicClock.nanoseconds()
            }
            return true
        }
        if !learned { fail(reason + " before a regular keyframe interval") }
    }
}
