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
        var gapStart: UInt64?
        var packets = 0
        var duplicates = 0
        /// The file's bytes already counted in the bytes metric.
        var bytesCounted: Int64 = 0
    }

    private let inner: Mutex<Inner>
    private let log: SessionLog
    private let readBatchSeconds: Double
    private let metrics: RecorderMetrics

    init(path: String, segmentSeconds: Double?, readBatchSeconds: Double, log: SessionLog, metrics: RecorderMetrics = .none) {
        self.readBatchSeconds = readBatchSeconds
        self.metrics = metrics
        let file = RecordingFile(path: path, segmentSeconds: segmentSeconds)
        file.onNewFile = { path, start in log.append(.file(path: path, startSeconds: start, at: Date())) }
        self.inner = Mutex(Inner(file: file))
        self.log = log
    }

    /// Writes `stream` until it ends (or a write fails), on a thread of its own.
    func record(_ stream: OpenedStream, attempt: Int, progress: @escaping @Sendable (Written) -> Void) async -> Outcome {
        do {
            return try await DedicatedThread.run(name: "FirstFrame.record") {
                self.inner.withLock { inner in self.write(stream, attempt: attempt, into: &inner, progress: progress) }
            }
        } catch {
            return .writeFailed(FFmpegError(code: -1, operation: "thread: \(error)"))
        }
    }

    private func write(_ stream: OpenedStream, attempt: Int, into inner: inout Inner,
                       progress: @Sendable (Written) -> Void) -> Outcome {
        // A recorder decodes nothing: the open's primed decoder and its picture buffers go now, not with the stream.
        _ = stream.takeVideoDecoder()
        inner.splicer.startConnection()
        var streams: [StreamInfo.Kind: CodecParameters] = [:]
        var indices: [Int: StreamInfo.Kind] = [stream.videoStreamIndex: .video]
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
            try inner.file.use(streams, at: inner.splicer.lastWrittenSeconds)
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
            if indices[packet.streamIndex] == nil {
                // FLV creates a stream when its first tag comes: audio that starts after the first picture joins
                // the recording (in a new file: a muxer's streams are fixed by its header).
                guard packet.mediaKind == .audio, !indices.values.contains(.audio),
                      let parameters = stream.codecParameters(ofStream: packet.streamIndex) else { continue }
                indices[packet.streamIndex] = .audio
                streams[.audio] = parameters
                do throws(FFmpegError) {
                    try inner.file.use(streams, at: inner.splicer.lastWrittenSeconds)
                } catch {
                    return .writeFailed(error)
                }
            }
            let now = MonotonicClock.nanoseconds()
            let decision = inner.splicer.decide(
                kind: packet.mediaKind, dts: packet.dts, pts: packet.pts, timeBase: packet.timeBase,
                isKeyframe: packet.flags.contains(.key), now: now)
            switch decision {
            case .write(let shift):
                packet.shiftTimestamps(by: shift)
                let seconds = packet.dtsSeconds ?? packet.ptsSeconds ?? 0
                // The gap ends when the picture comes back (audio may resume before the next keyframe).
                if packet.mediaKind == .video { closeGap(at: seconds, now: now, &inner) }
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
                progress(Written(packets: inner.packets, bytes: inner.file.bytesWritten, seconds: inner.splicer.lastWrittenSeconds))
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
                afterAttempt: attempt, end: end, fromSeconds: inner.splicer.lastWrittenSeconds, toSeconds: nil,
                wallSeconds: nil, duplicatesDropped: 0, droppedUntilKeyframe: 0, sameClock: nil)
            inner.gapStart = MonotonicClock.nanoseconds()
            metrics.gaps.increment()
        }
        return .ended(end, wroteMedia: wroteMedia)
    }

    /// The first packet after a gap is written: the gap is complete, and logged.
    private func closeGap(at seconds: Double, now: UInt64, _ inner: inout Inner) {
        guard var gap = inner.openGap else { return }
        gap.toSeconds = seconds
        gap.wallSeconds = inner.gapStart.map { Double(now - min(now, $0)) / 1e9 }
        gap.sameClock = inner.splicer.sameClock
        if let seconds = gap.wallSeconds { metrics.gapSeconds.recordSeconds(seconds) }
        inner.gaps.append(gap)
        inner.openGap = nil
        log.append(.gap(gap, at: Date()))
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
                    files: inner.file.paths, gaps: inner.gaps, packets: inner.packets, bytes: inner.file.bytesWritten,
                    duplicates: inner.duplicates, seconds: inner.splicer.lastWrittenSeconds, failure: failure)
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
