import FirstFrame
import FirstFrameFFmpeg
import Foundation
import Logging

/// How the CLI logs: swift-log to stderr (as swift-log's own default), and FFmpeg's lines through it
/// (``FFmpegLog/routeToSwiftLog(fallback:)``) instead of FFmpeg printing `[tcp @ 0x…]` lines behind its back.
///
/// FFmpeg's lines are printed only down to ``FFmpegLog/level``, which each command sets (`quiet` for those that
/// measure; `serve` shows warnings), or down to the level named by the environment variable
/// `FIRSTFRAME_FFMPEG_LOG` (`error`, `warning`, `info`, `verbose`, `debug`, `trace`), which overrides it: the CLI
/// has no `--verbose` flag. They come out as swift-log lines, with their component and the open's URL and stage:
///
/// ```
/// 2025-… error FirstFrame.StreamOpener : ffmpeg.component=tcp ffmpeg.level=error stage=tcpConnect url=http://127.0.0.1:9/x.flv [FFmpeg] Connection to tcp://127.0.0.1:9 failed: Connection refused
/// ```
enum CommandLineLogging {
    /// The logger the CLI's opens log to (and FFmpeg's lines of each open, with it): the library logs nothing
    /// unless given one.
    static var opens: Logger { Logger(label: "FirstFrame.StreamOpener") }

    /// Once, before any command runs (and before any `Logger` is made).
    static func setUp() {
        let override = ProcessInfo.processInfo.environment["FIRSTFRAME_FFMPEG_LOG"].flatMap { name in
            FFmpegLog.Level.allCases.first { $0.name == name.lowercased() }
        }
        LoggingSystem.bootstrap { label in Handler(StreamLogHandler.standardError(label: label), ffmpegLevel: override)
        }
        FFmpegLog.routeToSwiftLog(fallback: Logger(label: "FFmpeg"))
    }

    /// swift-log's stderr handler, less FFmpeg's lines below the CLI's FFmpeg level.
    struct Handler: LogHandler {
        private var inner: StreamLogHandler
        /// `FIRSTFRAME_FFMPEG_LOG`; nil: ``FFmpegLog/level``, read for each line.
        private let ffmpegLevel: FFmpegLog.Level?

        init(_ inner: StreamLogHandler, ffmpegLevel: FFmpegLog.Level?) {
            self.inner = inner
            self.ffmpegLevel = ffmpegLevel
        }

        /// The lowest level FFmpeg's lines are printed at; nil for none.
        private var ffmpegThreshold: Logger.Level? { (ffmpegLevel ?? FFmpegLog.level).loggerLevel }

        /// What the logger lets through: its own level, or lower when FFmpeg's lines are wanted lower (FFmpeg's
        /// router asks before formatting a line; ``log(event:)`` holds the CLI's own lines to the logger's level).
        var logLevel: Logger.Level {
            get { ffmpegThreshold.map { min($0, inner.logLevel) } ?? inner.logLevel }
            set { inner.logLevel = newValue }
        }

        func log(event: LogEvent) {
            if event.metadata?[FFmpegLog.componentMetadataKey] != nil
                || event.metadata?[FFmpegLog.levelMetadataKey] != nil
            {
                guard let threshold = ffmpegThreshold, event.level >= threshold else { return }
            } else {
                guard event.level >= inner.logLevel else { return }
            }
            inner.log(event: event)
        }

        var metadata: Logger.Metadata {
            get { inner.metadata }
            set { inner.metadata = newValue }
        }

        var metadataProvider: Logger.MetadataProvider? {
            get { inner.metadataProvider }
            set { inner.metadataProvider = newValue }
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { inner[metadataKey: key] }
            set { inner[metadataKey: key] = newValue }
        }
    }
}
