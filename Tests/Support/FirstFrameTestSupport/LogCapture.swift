import Logging
import Synchronization

/// Keeps every line its loggers are given: a swift-log handler of the tests' own, for checking what the library
/// (and FFmpeg, routed through it) logged, with which level and metadata.
package final class LogCapture: Sendable {
    package struct Line: Sendable {
        package var level: Logger.Level
        package var message: String
        /// The logger's metadata and the line's, as strings.
        package var metadata: [String: String]
    }

    private let storage = Mutex<[Line]>([])

    package init() {}

    package var lines: [Line] { storage.withLock { $0 } }
    package var messages: [String] { lines.map(\.message) }

    /// A logger whose lines land here.
    package func logger(label: String = "test", level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: label) { _ in Handler(capture: self) }
        logger.logLevel = level
        return logger
    }

    private func append(_ line: Line) { storage.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.append(
                .init(level: event.level, message: event.message.description, metadata: merged.mapValues { "\($0)" })
            )
        }
    }
}
