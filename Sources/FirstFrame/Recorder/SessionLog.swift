import Foundation
import Synchronization

/// A recording's session log: one JSON object per line — every attempt's ``FirstFrameReport``, every gap, every
/// file, the summary — appended in batches and written out on ``flush()``, so a stopped recorder
/// loses nothing. Lines are written with `write(2)` on an `O_APPEND` descriptor: each batch lands whole. The last
/// batch is written when the log is released.
public final class SessionLog: Sendable {
    /// One line of the log.
    public enum Entry: Sendable, Encodable {
        case attempt(number: Int, at: Date, report: FirstFrameReport)
        case gap(RecordingGap, at: Date)
        /// A file started, at `startSeconds` of the recording, for `reason` (`first`, `segment`, `parametersChanged`,
        /// `newSequenceHeader`, `codecChanged`, `audioJoined`).
        case file(path: String, startSeconds: Double, reason: String, at: Date)
        case summary(RecordingSummary, at: Date)

        private enum CodingKeys: String, CodingKey {
            case event, attempt, time, report, gap, path, startSeconds, reason, summary
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .attempt(let number, let at, let report):
                try container.encode("attempt", forKey: .event)
                try container.encode(number, forKey: .attempt)
                try container.encode(at, forKey: .time)
                try container.encode(report, forKey: .report)
            case .gap(let gap, let at):
                try container.encode("gap", forKey: .event)
                try container.encode(at, forKey: .time)
                try container.encode(gap, forKey: .gap)
            case .file(let path, let startSeconds, let reason, let at):
                try container.encode("file", forKey: .event)
                try container.encode(at, forKey: .time)
                try container.encode(path, forKey: .path)
                try container.encode(startSeconds, forKey: .startSeconds)
                try container.encode(reason, forKey: .reason)
            case .summary(let summary, let at):
                try container.encode("summary", forKey: .event)
                try container.encode(at, forKey: .time)
                try container.encode(summary, forKey: .summary)
            }
        }
    }

    public let path: String
    private let descriptor: Int32
    private let pending = Mutex<[Data]>([])
    /// Entries held before a batch is written.
    private let batchSize: Int

    /// Opens (creating, appending to) the log at `path`.
    public init(path: String, batchSize: Int = 32) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CocoaError(
                .fileWriteUnknown,
                userInfo: [NSFilePathErrorKey: path, NSUnderlyingErrorKey: POSIXError(.init(rawValue: errno) ?? .EIO)]
            )
        }
        self.path = path
        self.descriptor = descriptor
        self.batchSize = max(1, batchSize)
    }

    deinit {
        flush()
        Foundation.close(descriptor)
    }

    /// Adds an entry; writes the batch when it is full.
    public func append(_ entry: Entry) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var line = try? encoder.encode(entry) else { return }
        line.append(0x0A)
        let full = pending.withLock { pending in
            pending.append(line)
            return pending.count >= batchSize
        }
        if full { flush() }
    }

    /// Writes every pending entry now. Batches are taken and written under one lock, so two flushes cannot
    /// reorder them.
    public func flush() {
        pending.withLock { pending in
            let batch = pending.reduce(into: Data()) { $0.append($1) }
            pending = []
            write(batch)
        }
    }

    private func write(_ batch: Data) {
        guard !batch.isEmpty else { return }
        batch.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}
