import FirstFrameFFmpeg
import Foundation
import Synchronization

/// The writing half of a ``Recorder``: for each connection, reads its packets on a thread of their own and writes
/// them through the ``TimelineSplicer`` into the ``RecordingFile``, recording the gap between connections.
///
/// One connection at a time; the state sits behind a lock only so that the recorder's task can hand it to each
/// connection's thread.
final class RecordingWriter: Sendable {
    enum Outcome: Sendable {
        /// The connection ended; `wroteMedia` says whether it added anything to the file.
        case ended(StreamEnd, wroteMedia: Bool)
        case writeFailed(FFmpegError)
    }

    /// What has been written so far, for progress.
    struct Written: Sendable {
        var packets: Int
        var bytes: Int64
        var seconds: Double
    }

    private struct Inner: ~Copyable {
        var file: RecordingFile
        var splicer = TimelineSplicer()
        var gaps: [RecordingGap] = []
        /// The gap since the last connection ended, until the next one writes.
        var openGap: RecordingGap?
        /// When the last packet before the open gap was written (MonotonicClock ns).
        var gapSince: UInt64?
        var packets = 0
        var duplicates = 0
        /// The file's bytes already counted in the bytes metric.
        var bytesCounted: Int64 = 0
    }

    private let inner: Mutex<Inner>
    private let log: SessionLog
    private let readBatchSeconds: Double
    private let metrics: RecorderMetrics

    init(
        path: String,
        segmentSeconds: Double?,
        readBatchSeconds: Double,
        log: SessionLog,
        metrics: RecorderMetrics = .none
    ) {
        self.readBatchSeconds = readBatchSeconds
        self.metrics = metrics
        let file = RecordingFile(path: path, segmentSeconds: segmentSeconds)
        file.onNewFile = { path, start, reason in
            log.append(.file(path: path, startSeconds: start, reason: reason.rawValue, at: Date()))
        }
        self.inner = Mutex(Inner(file: file))
        self.log = log
    }

    /// Writes `stream` until it ends (or a write fails), on a thread of its own.
    func record(_ stream: OpenedStream, attempt: Int, progress: @escaping @Sendable (Written) -> Void) async -> Outcome
    {
        do {
            return try await DedicatedThread.run(name: "FirstFrame.record") {
                self.inner.withLock { inner in self.write(stream, attempt: attempt, into: &inner, progress: progress) }
            }
        } catch {
            return .writeFailed(FFmpegError(code: -1, operation: "thread: \(error)"))
        }
    }

    private func write(
        _ stream: OpenedStream,
        attempt: Int,
        into inner: inout Inner,
        progress: @Sendable (Written) -> Void
    ) -> Outcome {
        // A recorder decodes nothing: the open's primed decoder and its picture buffers go now, not with the stream.
        _ = stream.takeVideoDecoder()
        inner.splicer.startConnection()
        var streams: [StreamInfo.Kind: CodecParameters] = [:]
        var indices: [Int: StreamInfo.Kind] = [stream.videoStreamIndex: .video]
        /// Streams a change replaced: their packets are not written any more.
        var retired: Set<Int> = []
        if let audio = stream.audioStreamIndex { indices[audio] = .audio }
        for (index, kind) in indices {
            // Nil once the stream is closed (a stop during the open): nothing to write, and no file to start.
            guard let parameters = stream.codecParameters(ofStream: index) else {
                // The stream is closed: its next result is its end, at once.
                guard case .failure(let end) = stream.nextResult() else { continue }
                return finishConnection(end, attempt: attempt, packetsBefore: inner.packets, &inner)
            }
            streams[kind] = parameters
        }
        let packetsBefore = inner.packets
        do throws(FFmpegError) {
            try inner.file.use(streams, reason: .parametersChanged)
        } catch {
            return .writeFailed(error)
        }
        var lastProgress: UInt64 = 0
        var batching = BatchingPlan(stream: stream, seconds: readBatchSeconds)
        while true {
            let packet: Packet
            switch stream.nextResult() {
            case .success(let read): packet = read
            case .failure(let end): return finishConnection(end, attempt: attempt, packetsBefore: packetsBefore, &inner)
            }
            if let change = streamChange(
                packet,
                stream: stream,
                indices: &indices,
                retired: &retired,
                streams: &streams
            ) {
                do throws(FFmpegError) {
                    try inner.file.use(streams, reason: change)
                } catch {
                    return .writeFailed(error)
                }
            } else if indices[packet.streamIndex] == nil {
                continue
            }
            // The file was started (or will be, at the next keyframe) with the new configuration: a muxer must not
            // apply it again to the file it is in.
            packet.dropNewExtradata()
            let now = MonotonicClock.nanoseconds()
            let lastWrite = inner.splicer.lastWriteTime
            let decision = inner.splicer.decide(
                kind: packet.mediaKind,
                dts: packet.dts,
                pts: packet.pts,
                timeBase: packet.timeBase,
                isKeyframe: packet.flags.contains(.key),
                content: packet.contentHash,
                now: now
            )
            switch decision {
            case .write(let shift):
                packet.shiftTimestamps(by: shift)
                let seconds = packet.dtsSeconds ?? packet.ptsSeconds ?? 0
                // The gap ends when the picture comes back (audio may resume before the next keyframe); a break
                // found inside the connection is a gap of its own.
                let discontinuity = inner.splicer.takeDiscontinuity()
                if packet.mediaKind == .video, inner.openGap != nil {
                    closeGap(at: seconds, now: now, &inner)
                } else if let discontinuity {
                    logDiscontinuity(discontinuity, attempt: attempt, now: now, lastWrite: lastWrite, &inner)
                }
                do throws(FFmpegError) {
                    try inner.file.write(packet, seconds: seconds)
                } catch {
                    return .writeFailed(error)
                }
                inner.packets += 1
            case .duplicate:
                inner.duplicates += 1
                inner.openGap?.duplicatesDropped += 1
            case .waitingForKeyframe:
                if packet.mediaKind == .video { inner.openGap?.droppedUntilKeyframe += 1 }
            case .untimed:
                break
            }
            if now - lastProgress > 250_000_000 {
                lastProgress = now
                batching.apply(at: now)
                countBytes(&inner)
                progress(
                    Written(
                        packets: inner.packets,
                        bytes: inner.file.bytesWritten,
                        seconds: inner.splicer.lastWrittenSeconds
                    )
                )
            }
        }
    }

    /// When to batch a connection's reads (``OpenedStream/batchReads(bytes:)``): once two seconds have shown its
    /// byte rate, a wake-up per `seconds` of it, between 1 KiB and 64 KiB.
    private struct BatchingPlan {
        let stream: OpenedStream
        let seconds: Double
        let start = MonotonicClock.nanoseconds()
        let startBytes: Int64
        var done: Bool

        init(stream: OpenedStream, seconds: Double) {
            self.stream = stream
            self.seconds = seconds
            self.startBytes = stream.bytesRead
            self.done = seconds <= 0
        }

        mutating func apply(at now: UInt64) {
            let elapsed = Double(now - min(now, start)) / 1e9
            guard !done, elapsed >= 2 else { return }
            done = true
            let rate = Double(stream.bytesRead - startBytes) / elapsed
            stream.batchReads(bytes: Int(min(65_536, max(1024, rate * seconds))))
        }
    }

    /// The connection ended: a gap opens (unless the recorder closed it, or a gap is still open from an earlier
    /// connection that wrote nothing: the gap goes on, from where the picture stopped).
    private func finishConnection(_ end: StreamEnd, attempt: Int, packetsBefore: Int, _ inner: inout Inner) -> Outcome {
        let wroteMedia = inner.packets > packetsBefore
        countBytes(&inner)
        if end.reason != .closed, inner.splicer.hasWritten, inner.openGap == nil {
            inner.openGap = RecordingGap(
                kind: .reconnect,
                afterAttempt: attempt,
                end: end,
                fromSeconds: inner.splicer.lastWrittenSeconds
            )
            inner.gapSince = inner.splicer.lastWriteTime
            metrics.gaps.increment()
        }
        return .ended(end, wroteMedia: wroteMedia)
    }

    /// The first packet after a gap is written: the gap is complete, and logged. Its wall-clock length runs from the
    /// last packet written before it, so a stall that ended the connection is part of it.
    private func closeGap(at seconds: Double, now: UInt64, _ inner: inout Inner) {
        guard var gap = inner.openGap else { return }
        gap.toSeconds = seconds
        gap.wallSeconds = inner.gapSince.map { Double(now - min(now, $0)) / 1e9 }
        gap.sameClock = inner.splicer.sameClock
        if let seconds = gap.wallSeconds { metrics.gapSeconds.recordSeconds(seconds) }
        inner.gaps.append(gap)
        inner.openGap = nil
        log.append(.gap(gap, at: Date()))
    }

    /// A break found inside a connection (timestamps that jumped, video that skipped frames): logged as a gap.
    private func logDiscontinuity(
        _ discontinuity: TimelineSplicer.Discontinuity,
        attempt: Int,
        now: UInt64,
        lastWrite: UInt64?,
        _ inner: inout Inner
    ) {
        let gap = RecordingGap(
            kind: discontinuity.kind == .hole ? .hole : .timestampJump,
            afterAttempt: attempt,
            end: nil,
            fromSeconds: Double(discontinuity.from) / 1e6,
            toSeconds: Double(discontinuity.to) / 1e6,
            wallSeconds: lastWrite.map { Double(now - min(now, $0)) / 1e9 },
            sameClock: false
        )
        metrics.gaps.increment()
        inner.gaps.append(gap)
        log.append(.gap(gap, at: Date()))
    }

    /// What changed in the stream with `packet`, if anything a file cannot go on with: a new sequence header on it
    /// (the demuxer's new-extradata side data), or a new stream of a kind the recording has (FLV makes a new stream
    /// when the codec changes, or when audio starts after the first picture). Updates `indices` and `streams`.
    private func streamChange(
        _ packet: Packet,
        stream: OpenedStream,
        indices: inout [Int: StreamInfo.Kind],
        retired: inout Set<Int>,
        streams: inout [StreamInfo.Kind: CodecParameters]
    ) -> RecordingFile.Reason? {
        let keyframe = packet.flags.contains(.key) ? packet : nil
        if let kind = indices[packet.streamIndex] {
            // FLV repeats its sequence header (each comes as new extradata): only a different one is a change.
            guard let extradata = packet.newExtradata, let current = streams[kind], current.extradata != extradata
            else { return nil }
            streams[kind] = current.updated(extradata: extradata, keyframe: keyframe)
            return .newSequenceHeader
        }
        // Only a stream the input made after the open can join or replace one (FLV: a codec change, audio that
        // starts late). The others were there at the open and not chosen: another audio track, another variant.
        guard packet.streamIndex >= stream.streams.count, !retired.contains(packet.streamIndex),
            packet.mediaKind == .video || packet.mediaKind == .audio,
            var parameters = stream.codecParameters(ofStream: packet.streamIndex)
        else { return nil }
        let kind = packet.mediaKind
        let joining = kind == .audio && streams[.audio] == nil
        // A stream FLV made mid-stream has no picture size yet: the keyframe tells it.
        if kind == .video, parameters.width == 0 || packet.newExtradata != nil {
            parameters = parameters.updated(extradata: packet.newExtradata, keyframe: keyframe)
        }
        // The stream it replaces never comes back: FLV would have matched its codec again instead of making one.
        retired.formUnion(indices.filter { $0.value == kind }.keys)
        indices = indices.filter { $0.value != kind }
        indices[packet.streamIndex] = kind
        streams[kind] = parameters
        return joining ? .audioJoined : .codecChanged
    }

    /// Adds the bytes written since the last count to the bytes metric (at each progress tick and connection end).
    private func countBytes(_ inner: inout Inner) {
        let written = inner.file.bytesWritten
        if written > inner.bytesCounted { metrics.bytes.increment(by: written - inner.bytesCounted) }
        inner.bytesCounted = max(inner.bytesCounted, written)
    }

    /// Finalises the file and fills the summary's counts.
    func finish(into summary: inout RecordingSummary) async {
        let result = try? await DedicatedThread.run(name: "FirstFrame.record.finish") { () -> FinishResult in
            self.inner.withLock { inner in
                if let gap = inner.openGap {
                    inner.gaps.append(gap)
                    self.log.append(.gap(gap, at: Date()))
                    inner.openGap = nil
                }
                var failure: String?
                do throws(FFmpegError) { try inner.file.finish() } catch { failure = error.description }
                self.countBytes(&inner)
                return FinishResult(
                    files: inner.file.paths,
                    gaps: inner.gaps,
                    packets: inner.packets,
                    bytes: inner.file.bytesWritten,
                    duplicates: inner.duplicates,
                    seconds: inner.splicer.lastWrittenSeconds,
                    failure: failure
                )
            }
        }
        guard let result else { return }
        summary.files = result.files
        summary.gaps = result.gaps
        summary.packetsWritten = result.packets
        summary.bytesWritten = result.bytes
        summary.duplicatesDropped = result.duplicates
        summary.mediaSeconds = result.seconds
        if let failure = result.failure, summary.outcome == .stopped {
            summary.outcome = .writeFailed
            summary.message = failure
        }
    }

    private struct FinishResult: Sendable {
        var files: [String]
        var gaps: [RecordingGap]
        var packets: Int
        var bytes: Int64
        var duplicates: Int
        var seconds: Double
        var failure: String?
    }
}
