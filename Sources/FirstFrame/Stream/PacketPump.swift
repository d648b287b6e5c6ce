import Dispatch
import FirstFrameFFmpeg
import Foundation
import Synchronization

/// The read-ahead behind a ``PacketSequence``: a thread of the stream's own reads packets into a bounded buffer
/// (blocking FFmpeg calls never run on Swift's cooperative pool), and the consumer's `next()` takes them or
/// waits for one. The thread waits while the buffer is full: back-pressure.
final class PacketPump: Sendable {
    private let stream: OpenedStream
    private let capacity: Int
    /// Wakes the thread when it waits for room in the buffer (or for the stop). It starts at 0 and is only ever
    /// signalled, never left below its start: libdispatch traps on a semaphore freed below its initial value.
    private let wake = DispatchSemaphore(value: 0)
    private let state = Mutex(State())
    private let stopped = Atomic<Bool>(false)

    private struct State: ~Copyable {
        var buffer: [Packet] = []
        var end: StreamEnd?
        var waiter: CheckedContinuation<Result<Packet, StreamEnd>?, Never>?
        var started = false
        /// The thread found the buffer full and waits on `wake`.
        var producerWaiting = false
    }

    init(stream: OpenedStream, capacity: Int) {
        self.stream = stream
        self.capacity = capacity
    }

    var isStopped: Bool { stopped.load(ordering: .relaxed) }

    /// Starts the thread on the first `next()`, so that a sequence never iterated reads nothing.
    private func startIfNeeded() {
        let start = state.withLock { state in
            defer { state.started = true }
            return !state.started
        }
        guard start else { return }
        let thread = Thread { [self] in
            ThreadName.applyToCurrentThread("FirstFrame.packets")
            run()
        }
        thread.start()
    }

    private func run() {
        while true {
            if isStopped { break }
            let full = state.withLock { state in
                state.producerWaiting = state.buffer.count >= capacity
                return state.producerWaiting
            }
            if full {
                wake.wait()
                continue
            }
            let result = stream.nextResult()
            let isEnd = if case .failure = result { true } else { false }
            deliver(result)
            if isEnd { return }
        }
        // Stopped: what was read ahead and not consumed goes back to the stream.
        let unconsumed = state.withLock { state in
            defer { state.buffer = [] }
            return OwnershipTransfer(unique: state.buffer)
        }
        stream.giveBack(unconsumed)
        let waiter = state.withLock { state in
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Hands `result` to a waiting consumer, or buffers it.
    private func deliver(_ result: sending Result<Packet, StreamEnd>) {
        let transfer = OwnershipTransfer(unique: result)
        let waiter = state.withLock { state -> CheckedContinuation<Result<Packet, StreamEnd>?, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            switch transfer.take() {
            case .success(let packet): state.buffer.append(packet)
            case .failure(let end): state.end = end
            }
            return nil
        }
        guard let waiter else { return }
        waiter.resume(returning: transfer.take())
    }

    /// The next packet, or the end; nil once the pump has been stopped.
    func next() async -> sending Result<Packet, StreamEnd>? {
        startIfNeeded()
        return await withCheckedContinuation { (continuation: CheckedContinuation<Result<Packet, StreamEnd>?, Never>) in
            var wakeProducer = false
            let ready = state.withLock { state -> OwnershipTransfer<Result<Packet, StreamEnd>?>? in
                if !state.buffer.isEmpty {
                    wakeProducer = state.producerWaiting
                    state.producerWaiting = false
                    return OwnershipTransfer(unique: .success(state.buffer.removeFirst()))
                }
                if let end = state.end { return OwnershipTransfer(unique: .failure(end)) }
                // A second consumer waiting at the same time would take the first one's place: it ends instead.
                if isStopped || state.waiter != nil { return OwnershipTransfer(unique: nil) }
                state.waiter = continuation
                return nil
            }
            if wakeProducer { wake.signal() }
            guard let ready else { return }
            continuation.resume(returning: ready.take())
        }
    }

    /// The consuming task was cancelled: the stream's reads stop (a blocked one within FFmpeg's poll) and the
    /// read-ahead ends.
    func cancelReads() {
        stream.interruptReads()
        stop()
    }

    /// Ends the read-ahead after its current read (the iterator was dropped, or the stream closed).
    func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        // Wake the thread if it waits for room.
        wake.signal()
    }
}
