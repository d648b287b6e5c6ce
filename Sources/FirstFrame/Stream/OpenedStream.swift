import FirstFrameFFmpeg
import Foundation
import Logging
import Synchronization

/// An input opened up to its first picture and kept open: a player or recorder reads on from here.
///
/// The packets read while probing and buffering come first, in the order they were read, then the input's own.
/// The open's deadline ends at the first picture; after it a read fails only when no packet comes within the
/// read timeout (`readTimeoutMs`), when the input ends or breaks, or when the stream is closed.
///
/// Read with ``packets(bufferCapacity:)`` (an `AsyncSequence` that reads on the stream's own thread), or with
/// ``readPacket()`` from a thread of your own (it blocks). Either way each packet is yours alone (`sending`):
/// move it to another task, write it, drop it. ``close()`` may be called from anywhere, any number of times: it
/// stops a read blocked on another thread within FFmpeg's 100 ms poll, and frees the input.
public final class OpenedStream: Sendable {
    /// The open's report: every stage to the first picture (and, for a stream a ``StreamPreloader`` handed over,
    /// how it was prepared and how long the switch took: ``FirstFrameReport/preload``).
    public var report: FirstFrameReport { reportStorage.withLock { $0 } }
    private let reportStorage: Mutex<FirstFrameReport>
    /// The streams as handed over, codec parameters complete (size, pixel format, profile and level, frame rate,
    /// sample rate, channel layout, codec configuration) whatever the preset skipped: a muxer can start at once.
    public let streams: [StreamInfo]
    /// The video stream the first picture came from.
    public let videoStreamIndex: Int
    /// The audio stream a player would pick, if any.
    public let audioStreamIndex: Int?
    /// Seconds a read may wait for the next packet before the stream ends as ``StreamEnd/Reason/stalled``; nil
    /// for no limit.
    public let readTimeout: Double?

    private let interrupter: Interrupter
    /// The media connection's socket, while the input holds it open (see ``batchReads(bytes:)``).
    private let mediaSocket: Int32?
    /// When the first picture was decoded (`MonotonicClock`).
    private let firstPictureTime: UInt64
    private let reader: Mutex<Reader>
    /// What the getters read, copied from the reader after each read: they never wait for a read in progress.
    private let status: Mutex<Status>
    /// Where FFmpeg's lines of the reads (and of the close) go: the opener's logger, with the URL.
    private let logger: Logger
    /// Stalls and the end, for ``events(stallAfter:bufferingNewest:)``.
    let eventHub: KeptStreamEvents

    struct Status: ~Copyable {
        var end: StreamEnd?
        var bytesRead: Int64
        var queued: Int
        var handOff: PendingVideoDecoder?
    }
    /// The read-ahead of ``packets(bufferCapacity:)``, held weakly: it holds the stream (its thread reads it), and
    /// lives as long as the sequence's iterator or its thread.
    private let pump = Mutex(WeakPump())

    struct WeakPump: ~Copyable { weak var pump: PacketPump? }

    /// What reads need, behind the lock: the input and the packets not handed on yet.
    struct Reader: ~Copyable {
        var input: InputFormatContext?
        /// Packets read and not handed on yet, from ``queuedStart``.
        var queued: [Packet]
        var queuedStart = 0
        /// A corrupt packet held back until the next read tells whether the input broke inside it.
        var held: Packet?
        var end: StreamEnd?
        var packetsHandedOn = 0
        var bytesRead: Int64 = 0
        /// When the last whole packet was read (a corrupt one held back does not count).
        var lastPacketTime: UInt64
        /// When the wait for the next whole packet began: the read timeout runs from here, once per stall.
        var waitStart: UInt64
    }

    init(
        report: FirstFrameReport,
        input: sending InputFormatContext,
        interrupter: Interrupter,
        handOff: sending PendingVideoDecoder,
        videoStreamIndex: Int,
        queued: sending [Packet],
        readTimeout: Double?,
        mediaSocket: Int32?,
        openStart: UInt64,
        logger: Logger = .disabled
    ) {
        self.reportStorage = Mutex(report)
        self.logger = logger
        self.eventHub = KeptStreamEvents(origin: openStart)
        self.streams = input.streams
        self.videoStreamIndex = videoStreamIndex
        self.audioStreamIndex = input.bestStream(.audio)
        self.readTimeout = readTimeout
        self.interrupter = interrupter
        self.mediaSocket = mediaSocket
        let now = MonotonicClock.nanoseconds()
        self.firstPictureTime = now
        let bytesRead = input.bytesRead
        let queuedCount = queued.count
        self.reader = Mutex(
            Reader(input: input, queued: queued, bytesRead: bytesRead, lastPacketTime: now, waitStart: now)
        )
        self.status = Mutex(Status(end: nil, bytesRead: bytesRead, queued: queuedCount, handOff: handOff))
        // The open's deadline and request cap guarded the open; a kept stream lives on.
        interrupter.disarm()
    }

    deinit { close() }

    // MARK: Reading

    /// The next packet: those read during the open first, then the input's. Blocks; call it from a thread of your
    /// own, one reader at a time.
    ///
    /// - Returns: the packet, or `nil` when the stream ended cleanly (``StreamEnd/isClean``; ``end`` says how).
    /// - Throws: ``StreamEnd`` when it ended otherwise: dropped, stalled or failed.
    public func readPacket() throws(StreamEnd) -> sending Packet? {
        switch nextResult() {
        case .success(let packet): return packet
        case .failure(let end):
            if end.isClean { return nil }
            throw end
        }
    }

    /// The next packet or the end, whatever the end: what the read-ahead and the recorder take, which handle every
    /// end alike.
    package func nextResult() -> sending Result<Packet, StreamEnd> {
        reader.withLock { reader in
            let next = OwnershipTransfer(unique: self.next(&reader))
            publish(reader)
            return next
        }.take()
    }

    /// Packets as an `AsyncSequence`, read ahead on the stream's own thread (never Swift's cooperative pool) up to
    /// `bufferCapacity` packets: the reader waits while that many are unconsumed (back-pressure).
    ///
    /// One consumer per stream (a second one waiting at the same time gets the end of the sequence at once). The
    /// sequence finishes at a clean end and throws ``StreamEnd`` at any other. When its iterator is dropped early,
    /// the read-ahead stops after its current read and gives the packets it read ahead back to ``readPacket()``;
    /// a read started before that returns the packet after them.
    public func packets(bufferCapacity: Int = 64) -> PacketSequence {
        let pump = pump.withLock { weak -> PacketPump in
            if let pump = weak.pump, !pump.isStopped { return pump }
            let pump = PacketPump(stream: self, capacity: max(1, bufferCapacity))
            weak.pump = pump
            return pump
        }
        return PacketSequence(pump: pump)
    }

    /// How the stream ended; nil while it is still going. (Like the other getters, it never waits for a read.)
    public var end: StreamEnd? { status.withLock { $0.end } }

    /// Packets read (during the open, or ahead) and not handed on yet.
    public var queuedPacketCount: Int { status.withLock { $0.queued } }

    /// Bytes the input had read by the end of the last read (the open's included).
    public var bytesRead: Int64 { status.withLock { $0.bytesRead } }

    /// Takes the open's primed video decoder and its first picture, once; nil after the first call.
    ///
    /// When the first picture was decoded alone (`decodeKeyframeAlone`), the decoder is made and primed here: one
    /// more decode of the keyframe, on the caller's thread, that the first picture did not wait for.
    public func takeVideoDecoder() -> sending VideoDecoderHandOff? {
        status.withLock { status in
            defer { status.handOff = nil }
            return OwnershipTransfer(unique: status.handOff)
        }.take()?.handOff()
    }

    /// Says how a ``StreamPreloader`` prepared the stream and how long its switch took, in the report.
    package func describePreload(_ preload: FirstFrameReport.Preload) {
        reportStorage.withLock { $0.preload = preload }
    }

    /// The media connection's socket, while the input holds it (a preloaded room waits on it between reads).
    package var mediaSocketDescriptor: Int32? { mediaSocket }

    /// Replaces the decoder ``takeVideoDecoder()`` hands over: a preloaded room keeps one for its newest keyframe.
    func replaceVideoDecoder(_ pending: sending PendingVideoDecoder) {
        let transfer = OwnershipTransfer(unique: pending)
        status.withLock { $0.handOff = transfer.take() }
    }

    /// Copies the reader's state for the getters; called with the reader lock held (reader, then status).
    private func publish(_ reader: borrowing Reader) {
        let end = reader.end
        let bytes = reader.bytesRead
        let queued = reader.queued.count - reader.queuedStart
        status.withLock { status in
            status.end = end
            status.bytesRead = bytes
            status.queued = queued
        }
    }

    /// A copy of stream `index`'s codec parameters (for a muxer of your own), nil once the stream is closed or for an
    /// index the input has not made. Streams the input made after the open (FLV: audio that starts late, a codec
    /// change) have indices past ``streams``. It waits for a read in progress on another thread.
    public func codecParameters(ofStream index: Int) -> sending CodecParameters? {
        reader.withLock { reader -> OwnershipTransfer<CodecParameters?> in
            // The input's own count: FLV makes streams mid-stream (audio that starts late, a codec change).
            guard let input = reader.input, index >= 0, index < input.streamCount else {
                return OwnershipTransfer(unique: nil)
            }
            return OwnershipTransfer(unique: CodecParameters(of: input, streamIndex: index))
        }.take()
    }

    /// Lets the kernel wake the reading thread only once `bytes` have arrived on the media connection
    /// (`SO_RCVLOWAT`), instead of for every tag: a recorder of many channels spends most of its CPU on those
    /// wake-ups (measured: 0.25 % → 0.12 % of a core per 800 kbit/s channel at 16 KiB). Not for players: each read
    /// may wait up to `bytes` ÷ bitrate longer, and when the server stalls, the last bytes below the mark stay unread
    /// until the read timeout ends the stream. An end of stream, an error or `close()` still wake the read at once.
    ///
    /// - Returns: whether it applied (a single-connection input, FLV or MPEG-TS, still open); `1` restores the
    ///   default. It waits for a read in progress on another thread: call it from the reading thread.
    @discardableResult
    public func batchReads(bytes: Int) -> Bool {
        guard let mediaSocket else { return false }
        return reader.withLock { reader in
            // The input holds the socket open, so the descriptor is still this connection's.
            guard reader.input != nil else { return false }
            var mark = Int32(clamping: max(1, bytes))
            return setsockopt(mediaSocket, SOL_SOCKET, SO_RCVLOWAT, &mark, socklen_t(MemoryLayout<Int32>.size)) == 0
        }
    }

    /// Stops the stream: a read blocked on another thread returns within FFmpeg's 100 ms poll, the read-ahead
    /// thread ends, and the input is closed. Idempotent; the stream's ``end`` becomes ``StreamEnd/Reason/closed``
    /// unless it had ended before.
    public func close() {
        interrupter.cancel()
        pump.withLock { $0.pump }?.stop()
        let input = reader.withLock { reader -> InputFormatContext? in
            if reader.end == nil { reader.end = makeEnd(&reader, .closed, "closed by the application") }
            let input = reader.input
            reader.input = nil
            reader.queued = []
            reader.queuedStart = 0
            reader.held = nil
            publish(reader)
            return input
        }
        // The primed decoder nobody took goes with the input.
        status.withLock { $0.handOff = nil }
        // avformat_close_input, outside the lock, its lines to the stream's logger.
        var closing = consume input
        FFmpegLog.withLogger(logger) { closing = nil }
        _ = closing
    }

    /// Makes every read return at FFmpeg's next poll, ending the stream as closed, without waiting for a read in
    /// progress (the input is freed by ``close()`` or when the stream goes away): what a cancellation handler may do.
    func interruptReads() {
        interrupter.cancel()
    }

    /// Packets the read-ahead took but nobody consumed: they go back in front of the queue.
    func giveBack(_ packets: OwnershipTransfer<[Packet]>) {
        reader.withLock { reader in
            let packets = packets.take()
            guard reader.input != nil else { return }
            reader.queued = packets + reader.queued[reader.queuedStart...]
            reader.queuedStart = 0
            publish(reader)
        }
    }

    // MARK: One read

    /// The next packet, removed from the queue (the caller gets the only reference), or the end.
    private func next(_ reader: inout Reader) -> Result<Packet, StreamEnd> {
        while true {
            if let end = reader.end { return .failure(end) }
            if reader.queuedStart < reader.queued.count {
                let packet = reader.queued[reader.queuedStart]
                reader.queuedStart += 1
                if reader.queuedStart == reader.queued.count {
                    reader.queued = []
                    reader.queuedStart = 0
                }
                reader.packetsHandedOn += 1
                return .success(packet)
            }
            guard let input = reader.input else {
                reader.end = makeEnd(&reader, .closed, "closed by the application")
                continue
            }
            readFromInput(input, &reader)
        }
    }

    /// One `av_read_frame`, under the read timeout: queues what it read (a corrupt packet is held back until the
    /// read after it), or sets the end.
    ///
    /// The timeout is one per stall: it runs from when the wait for the next whole packet began. A read that the
    /// timeout cuts off inside a packet returns that packet, truncated and flagged corrupt; the read after it finds
    /// the deadline passed and ends the stream as stalled at once, instead of waiting a second timeout.
    private func readFromInput(_ input: InputFormatContext, _ reader: inout Reader) {
        if reader.held == nil { reader.waitStart = MonotonicClock.nanoseconds() }
        let waitStart = reader.waitStart
        interrupter.setStageDeadline(readTimeout.map { MonotonicInstant(nanoseconds: waitStart) + .seconds($0) })
        let packet = Packet()
        let outcome: Result<Bool, FFmpegError>
        eventHub.readStarted()
        do throws(FFmpegError) {
            // On whichever thread reads (the read-ahead's, or the caller's): FFmpeg logs on it.
            outcome = .success(
                try FFmpegLog.withLogger(logger) { () throws(FFmpegError) -> Bool in try input.read(into: packet) }
            )
        } catch {
            outcome = .failure(error)
        }
        // A packet cut short (flagged corrupt: the read was interrupted inside it) ends no wait.
        eventHub.readFinished(gotPacket: (try? outcome.get()) == true && !packet.flags.contains(.corrupt))
        // Some demuxers answer the interrupt with an end of input (HLS waiting for a playlist that does not
        // update): when the read timeout fired, the stream stalled, whatever the demuxer said.
        let timedOut = interrupter.stageDeadlinePassed && !interrupter.isCancelled
        interrupter.setStageDeadline(nil)
        reader.bytesRead = input.bytesRead
        switch outcome {
        case .success(true):
            // The held packet was not the last: the input went on after it. Hand it on, flagged corrupt.
            if let held = reader.held { reader.queued.append(held) }
            reader.held = nil
            if packet.flags.contains(.corrupt) {
                reader.held = packet
            } else {
                reader.lastPacketTime = MonotonicClock.nanoseconds()
                reader.queued.append(packet)
            }
        case .success(false) where timedOut:
            reader.end = makeEnd(&reader, .stalled, stallMessage, discarded: reader.held?.size ?? 0)
        case .success(false):
            if let held = reader.held {
                reader.end = makeEnd(
                    &reader,
                    .connectionDropped,
                    "the input ended inside a packet of \(held.size) bytes (not handed on)",
                    discarded: held.size
                )
            } else {
                reader.end = makeEnd(&reader, .endOfInput, "the input ended")
            }
        case .failure(let error):
            reader.end = classify(error, &reader)
        }
    }

    /// What a stall's end says, whichever way the read timeout ended the read (an interrupt, or an end of input).
    private var stallMessage: String {
        "no packet within " + (readTimeout.map { String(format: "%.0f ms", $0 * 1000) } ?? "the read timeout")
    }

    private func classify(_ error: FFmpegError, _ reader: inout Reader) -> StreamEnd {
        let discarded = reader.held?.size ?? 0
        if error.code == .interrupted, interrupter.isCancelled {
            return makeEnd(&reader, .closed, "closed by the application", error: error, discarded: discarded)
        }
        if error.code == .interrupted {
            return makeEnd(&reader, .stalled, stallMessage, error: error, discarded: discarded)
        }
        let connectionErrors = [EIO, ECONNRESET, EPIPE, ETIMEDOUT, ECONNABORTED, ENETDOWN, ENETUNREACH, EHOSTUNREACH]
        if reader.held != nil || connectionErrors.contains(where: { error.code == .system($0) }) {
            let inside = reader.held.map { " inside a packet of \($0.size) bytes (not handed on)" } ?? ""
            return makeEnd(
                &reader,
                .connectionDropped,
                "the connection broke\(inside): \(error.message)",
                error: error,
                discarded: discarded
            )
        }
        return makeEnd(&reader, .failed, error.description, error: error, discarded: discarded)
    }

    private func makeEnd(
        _ reader: inout Reader,
        _ reason: StreamEnd.Reason,
        _ message: String,
        error: FFmpegError? = nil,
        discarded: Int = 0
    ) -> StreamEnd {
        reader.held = nil
        let now = MonotonicClock.nanoseconds()
        let end = StreamEnd(
            reason: reason,
            message: message,
            error: error,
            packets: reader.packetsHandedOn,
            bytesRead: reader.bytesRead,
            discardedBytes: discarded,
            secondsSinceFirstPicture: Double(now - firstPictureTime) / 1e9,
            secondsSinceLastPacket: Double(now - min(now, reader.lastPacketTime)) / 1e9
        )
        // Every end is made once, when the stream ends (the reader keeps it).
        eventHub.ended(end)
        return end
    }
}
