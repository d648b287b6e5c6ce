import FirstFrameFFmpeg
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One room opened ahead of the user and kept hot on a thread of its own until it is claimed, closed or idle too
/// long: it reads the stream as it comes, holds only the packets from the newest video keyframe on (older ones
/// are dropped at each keyframe, and everything while the GOP is over the byte budget), and decodes each new
/// keyframe alone, so that at hand-over the player gets the newest keyframe's picture at once, a decoder primed
/// with it, and the packets after it — the stream as it is now, not a stale buffer.
///
/// Between reads the thread waits on the media socket and an eventfd: a claim wakes it at once, and finds it
/// between two packets (an input without a single media socket, HLS, is read blocking: a claim then waits for the
/// read in progress, at most one packet's interval).
package final class PreloadedRoom: Sendable {
    /// Why the hot thread stopped.
    package enum Stop: Sendable, Equatable {
        case claimed, closed, idle
        /// The stream ended while preloaded (the room dropped): a claim opens it again.
        case ended
    }

    package let url: String
    package let stream: OpenedStream
    /// When the room was hot (its first picture), `MonotonicClock`.
    package let readySince: UInt64
    private let byteBudget: Int
    private let idleNanoseconds: UInt64
    /// A pipe: a claim writes a byte to wake the hot thread out of its poll.
    private let wakeDescriptors: (read: Int32, write: Int32)
    private let state: Mutex<State>
    private let finished = DispatchSemaphore(value: 0)
    /// ``waitUntilStopped()`` callers, resumed when the hot thread leaves its loop.
    private let stopWaiters = Mutex<(stopped: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    private struct State: ~Copyable {
        /// From the newest keyframe on (empty while over budget, until the next keyframe).
        var window: [Packet] = []
        var windowBytes = 0
        var pending: PendingVideoDecoder?
        var stop: Stop?
        var keyframes = 0
        /// The decode timestamps of the last keyframes held (the newest last), at most 8.
        var keyframeTimestamps: [Int64] = []
        var bytesReadAtStart: Int64 = 0
    }

    /// Starts the hot thread for `stream` (just opened, its first picture decoded).
    package init(url: String, stream: OpenedStream, byteBudget: Int, idle: Duration) {
        self.url = url
        self.stream = stream
        self.readySince = MonotonicClock.nanoseconds()
        self.byteBudget = byteBudget
        let components = idle.components
        self.idleNanoseconds =
            UInt64(max(0, components.seconds)) * 1_000_000_000
            + UInt64(max(0, components.attoseconds / 1_000_000_000))
        var pipeEnds: [Int32] = [-1, -1]
        if pipe(&pipeEnds) != 0 { pipeEnds = [-1, -1] }
        for end in pipeEnds where end >= 0 { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        self.wakeDescriptors = (pipeEnds[0], pipeEnds[1])
        var initial = State()
        initial.bytesReadAtStart = stream.bytesRead
        self.state = Mutex(initial)
        let thread = Thread { [self] in
            ThreadName.applyToCurrentThread("FirstFrame.preload")
            keepHot()
            let waiters = stopWaiters.withLock { state in
                state.stopped = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
            finished.signal()
        }
        thread.start()
    }

    deinit {
        if wakeDescriptors.read >= 0 { Glibc.close(wakeDescriptors.read) }
        if wakeDescriptors.write >= 0 { Glibc.close(wakeDescriptors.write) }
    }

    /// Why the hot thread stopped, nil while it runs.
    package var stopped: Stop? { state.withLock { $0.stop } }

    /// Returns once the hot thread has stopped (claimed, closed, idle or ended), with the reason.
    package func waitUntilStopped() async -> Stop? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = stopWaiters.withLock { state in
                if state.stopped { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
        return stopped
    }

    /// The decode timestamps of the last keyframes the room held (at most 8, the newest last).
    package var keyframeTimestamps: [Int64] { state.withLock { $0.keyframeTimestamps } }

    /// Whether the room holds a keyframe to hand over (false while over its byte budget).
    package var holdsKeyframe: Bool { state.withLock { $0.pending != nil && !$0.window.isEmpty } }

    /// The bytes held now (the newest GOP).
    package var heldBytes: Int { state.withLock { $0.windowBytes } }

    /// Stops the hot thread and hands the stream over: the held GOP goes back in front of the stream's queue, the
    /// newest keyframe's decoder becomes the one ``OpenedStream/takeVideoDecoder()`` returns. Nil when the room
    /// had stopped (ended, idle, closed), or when it holds no keyframe (over its byte budget until the next one):
    /// the room is closed and the caller opens it again, rather than hand over a stream that starts mid-GOP.
    package func claim() -> (stream: OpenedStream, heldBytes: Int, bytesRead: Int64)? {
        guard stop(.claimed) else { return nil }
        guard state.withLock({ $0.pending != nil && !$0.window.isEmpty }) else {
            stream.close()
            return nil
        }
        let handed = state.withLock {
            state -> (OwnershipTransfer<[Packet]>, OwnershipTransfer<PendingVideoDecoder?>, Int, Int64) in
            let window = state.window
            let pending = state.pending
            state.window = []
            state.pending = nil
            return (
                OwnershipTransfer(unique: window), OwnershipTransfer(unique: pending), state.windowBytes,
                state.bytesReadAtStart
            )
        }
        if let pending = handed.1.take() { stream.replaceVideoDecoder(pending) }
        stream.giveBack(handed.0)
        return (stream, handed.2, stream.bytesRead - handed.3)
    }

    /// Stops the hot thread and closes the stream (a room dropped from the list, or the preloader shutting down).
    package func close() {
        _ = stop(.closed)
        stream.close()
    }

    /// Sets the stop reason and waits for the thread to leave its loop; false when it had stopped for another
    /// reason already.
    private func stop(_ reason: Stop) -> Bool {
        let first = state.withLock { state -> Bool in
            guard state.stop == nil else { return false }
            state.stop = reason
            return true
        }
        guard first else { return false }
        var one: UInt8 = 1
        _ = write(wakeDescriptors.write, &one, 1)
        // A blocking read (no media socket) returns at its next packet; close() interrupts it at once.
        if reason == .closed { stream.close() }
        finished.wait()
        return true
    }

    // MARK: The hot thread

    private func keepHot() {
        let video = stream.videoStreamIndex
        let socket = stream.mediaSocketDescriptor
        while true {
            if state.withLock({ $0.stop }) != nil { return }
            let now = MonotonicClock.nanoseconds()
            if now - readySince >= idleNanoseconds {
                if markStopped(.idle) { stream.close() }
                return
            }
            if let socket, stream.queuedPacketCount == 0 {
                // Wait for bytes (or a claim); FFmpeg's own buffer may hold a packet meanwhile: it comes with the
                // next bytes, a packet interval later at most.
                let remaining = Int32(clamping: (idleNanoseconds - (now - readySince)) / 1_000_000 + 1)
                var fds = [
                    pollfd(fd: socket, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: wakeDescriptors.read, events: Int16(POLLIN), revents: 0),
                ]
                let ready = poll(&fds, 2, min(remaining, 1000))
                if ready <= 0 || fds[0].revents == 0 { continue }
            }
            switch stream.nextResult() {
            case .success(let packet):
                hold(packet, video: video)
            case .failure:
                _ = markStopped(.ended)
                return
            }
        }
    }

    private func markStopped(_ reason: Stop) -> Bool {
        state.withLock { state in
            guard state.stop == nil else { return false }
            state.stop = reason
            return true
        }
    }

    /// Keeps `packet` in the window: a video keyframe starts a new one (decoded alone for the hand-over's first
    /// picture); past the byte budget the window is dropped until the next keyframe.
    private func hold(_ packet: consuming Packet, video: Int) {
        let packet = packet
        if packet.streamIndex == video, packet.isKeyframe, !packet.isCorrupt,
            let pending = Self.decodeAlone(packet, parameters: stream.codecParameters(ofStream: video))
        {
            let transfer = OwnershipTransfer(unique: (packet, pending))
            state.withLock { state in
                let (keyframe, pending) = transfer.take()
                state.window = [keyframe]
                state.windowBytes = keyframe.size
                state.pending = pending
                state.keyframes += 1
                state.keyframeTimestamps = Array((state.keyframeTimestamps + [keyframe.dts ?? -1]).suffix(8))
            }
            return
        }
        let transfer = OwnershipTransfer(unique: packet)
        state.withLock { state in
            let packet = transfer.take()
            guard !state.window.isEmpty else { return }
            if state.windowBytes + packet.size > byteBudget {
                // Over budget: nothing decodable is held until the next keyframe.
                state.window = []
                state.windowBytes = 0
                state.pending = nil
                return
            }
            state.windowBytes += packet.size
            state.window.append(packet)
        }
    }

    /// The keyframe's picture, decoded alone in a one-thread decoder, as the hand-over's pending decoder (primed
    /// with the keyframe when the player takes it); nil when it gives no picture alone.
    private static func decodeAlone(_ keyframe: Packet, parameters: consuming CodecParameters?) -> PendingVideoDecoder?
    {
        guard let parameters, let decoder = try? CodecContext.decoder(for: parameters, threads: 1),
            let picture = try? FirstPictureDecoder.decodeAlone(keyframe, decoder: decoder)
        else { return nil }
        return .toPrime(
            .init(parameters: parameters, threads: 1, keyframe: keyframe.sharedReference(), firstPicture: picture)
        )
    }
}
