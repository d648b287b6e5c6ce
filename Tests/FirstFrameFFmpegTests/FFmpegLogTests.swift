import CFFmpeg
import FirstFrameCore
import FirstFrameFFmpeg
import FirstFrameTestSupport
import Foundation
import Logging
import Synchronization
import Testing

/// FFmpeg's lines into swift-log, driven with `av_vlog` on objects of the test's own class: the joining of pieces,
/// the levels, the thread a line belongs to, the fallback.
@Suite(.serialized) struct FFmpegLogRouting {
    init() { FFmpegLog.routeToSwiftLog() }

    @Test func piecesAreJoinedIntoWholeLinesWithoutFFmpegsPrefix() {
        let capture = LogCapture()
        let context = LogContext(name: "joiner")
        FFmpegLog.withLogger(capture.logger()) {
            context.log(.info, "Stream #%d:%d: ", Int32(0), Int32(1))
            context.log(.info, "Video: %s", "h264")
            LogContext.log(nil, .info, "\n")  // FFmpeg ends lines with a context-less "\n" too
            context.log(.warning, "first\nsecond\n\nthird")
            context.log(.warning, " end\r\n")
        }
        #expect(capture.messages == ["Stream #0:1: Video: h264", "first", "second", "third end"])
        #expect(capture.lines.allSatisfy { $0.metadata[FFmpegLog.componentMetadataKey] == "joiner" })
        #expect(capture.lines.map(\.level) == [.info, .warning, .warning, .warning])
    }

    @Test func anUnfinishedLineIsLoggedWhenTheRegistrationEnds() {
        let capture = LogCapture()
        let context = LogContext(name: "unfinished")
        FFmpegLog.withLogger(capture.logger()) { context.log(.error, "no newline") }
        #expect(capture.messages == ["no newline"])
    }

    @Test func levelsMapOntoSwiftLogsAndKeepFFmpegsName() {
        let capture = LogCapture()
        let context = LogContext(name: "levels")
        let levels: [FFmpegLog.Level] = [.panic, .fatal, .error, .warning, .info, .verbose, .debug, .trace]
        FFmpegLog.withLogger(capture.logger()) {
            for level in levels { context.log(level, "at %s\n", level.name) }
        }
        #expect(capture.lines.map(\.level) == [.critical, .critical, .error, .warning, .info, .debug, .trace, .trace])
        #expect(capture.lines.map { $0.metadata[FFmpegLog.levelMetadataKey] } == levels.map(\.name))
        #expect(capture.messages == levels.map { "at \($0.name)" })
    }

    @Test func theLoggersLevelDecidesWhichLinesComeThrough() {
        let capture = LogCapture()
        let context = LogContext(name: "filtered")
        FFmpegLog.withLogger(capture.logger(level: .warning)) {
            context.log(.verbose, "Starting connection attempt to %s port %d\n", "127.0.0.1", Int32(9))
            context.log(.info, "an info line\n")
            context.log(.warning, "a warning\n")
            context.log(.error, "an error\n")
        }
        #expect(capture.messages == ["a warning", "an error"])
    }

    /// A registered logger takes what its level lets through, whatever the global level (which other tests set).
    @Test func aRegisteredLoggerIsNotBoundByTheGlobalLevel() {
        let capture = LogCapture()
        let context = LogContext(name: "floor")
        FFmpegLog.withLogger(capture.logger()) { context.log(.trace, "header='%s'\n", "Content-Type: video/x-flv") }
        #expect(capture.messages == ["header='Content-Type: video/x-flv'"])
    }

    @Test func registrationsNestAndCarryTheirMetadata() {
        let outer = LogCapture()
        let inner = LogCapture()
        let context = LogContext(name: "nested")
        var outerLogger = outer.logger()
        outerLogger[metadataKey: "url"] = "http://example.com/a.flv"
        let stage = Mutex("dns")
        // swift-format-ignore: OnlyOneTrailingClosureArgument
        FFmpegLog.withLogger(outerLogger, metadata: { ["stage": .string(stage.withLock { $0 })] }) {
            context.log(.error, "one\n")
            stage.withLock { $0 = "tcpConnect" }
            FFmpegLog.withLogger(inner.logger()) { context.log(.error, "two\n") }
            context.log(.error, "three\n")
        }
        context.log(.verbose, "nobody's\n")
        #expect(outer.messages == ["one", "three"])
        #expect(inner.messages == ["two"])
        #expect(outer.lines.map { $0.metadata["stage"] } == ["dns", "tcpConnect"])
        #expect(outer.lines.allSatisfy { $0.metadata["url"] == "http://example.com/a.flv" })
        #expect(inner.lines.first?.metadata["stage"] == nil)
    }

    /// Each thread's lines, pieces included, go to its own logger, however the threads interleave.
    @Test func concurrentThreadsEachGetTheirOwnLines() async throws {
        let captures = (0..<4).map { _ in LogCapture() }
        let context = LogContext(name: "threads")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, capture) in captures.enumerated() {
                let logger = capture.logger()
                group.addTask {
                    try await DedicatedThread.run(name: "log-\(index)") {
                        FFmpegLog.withLogger(logger) {
                            for line in 0..<300 {
                                context.log(.info, "thread %d ", Int32(index))
                                context.log(.info, "line %d\n", Int32(line))
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        for (index, capture) in captures.enumerated() {
            #expect(capture.messages == (0..<300).map { "thread \(index) line \($0)" })
        }
    }

    /// Lines of a thread with no registered logger go to the fallback, down to the global level.
    @Test func linesOfNoRegisteredThreadGoToTheFallbackDownToTheGlobalLevel() async throws {
        let capture = LogCapture()
        let context = LogContext(name: "fallback-\(UUID().uuidString.prefix(8))")
        let previous = FFmpegLog.fallback
        let previousLevel = FFmpegLog.level
        FFmpegLog.routeToSwiftLog(fallback: capture.logger())
        defer {
            FFmpegLog.fallback = previous
            FFmpegLog.level = previousLevel
        }
        try await DedicatedThread.run(name: "unregistered") {
            // Other suites set the global level (to quiet) at any moment: try a few times.
            for attempt in 0..<20 where !capture.messages.contains("an error") {
                FFmpegLog.level = .info
                context.log(.error, "an error\n")
                context.log(.verbose, "a verbose line\n")
                if attempt > 0 { Thread.sleep(forTimeInterval: 0.01) }
            }
        }
        let mine = capture.lines.filter { $0.metadata[FFmpegLog.componentMetadataKey] == context.name }
        #expect(mine.map(\.message).contains("an error"))
        #expect(!mine.map(\.message).contains("a verbose line"))
    }

    @Test func routingIsInstalledOnceFromAnyThread() async {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { FFmpegLog.routeToSwiftLog() } }
        }
        #expect(FFmpegLog.isRoutedToSwiftLog)
        let capture = LogCapture()
        FFmpegLog.withLogger(capture.logger()) { LogContext(name: "once").log(.error, "once\n") }
        #expect(capture.messages == ["once"])
    }

    /// swift-log's default handler prints `info` to stderr: the default fallback keeps FFmpeg's chatter off it.
    @Test func theDefaultFallbackIsQuietBelowWarning() {
        #expect(FFmpegLog.fallback.label == "FFmpeg")
        #expect(FFmpegLog.fallback.logLevel == .warning)
        #expect(FFmpegLog.Level.warning.loggerLevel == .warning)
        #expect(FFmpegLog.Level.quiet.loggerLevel == nil)
        #expect(FFmpegLog.Level.verbose.loggerLevel == .debug)
    }
}

// MARK: Helpers

/// An object FFmpeg can log for: its first field points to an `AVClass` named `name`, whose `item_name` is the
/// class name (as for most of FFmpeg's own).
final class LogContext: @unchecked Sendable {
    let name: String
    private let className: UnsafeMutablePointer<CChar>
    private let avClass: UnsafeMutablePointer<AVClass>
    private let object: UnsafeMutablePointer<UnsafePointer<AVClass>?>

    init(name: String) {
        self.name = name
        className = strdup(name)
        avClass = .allocate(capacity: 1)
        avClass.initialize(to: AVClass())
        avClass.pointee.class_name = UnsafePointer(className)
        avClass.pointee.item_name = av_default_item_name
        object = .allocate(capacity: 1)
        object.initialize(to: UnsafePointer(avClass))
    }

    deinit {
        object.deallocate()
        avClass.deallocate()
        free(className)
    }

    func log(_ level: FFmpegLog.Level, _ format: String, _ arguments: any CVarArg...) {
        Self.log(UnsafeMutableRawPointer(object), level, format, arguments)
    }

    /// `String` arguments go as C strings (for `%s`).
    static func log(
        _ context: UnsafeMutableRawPointer?,
        _ level: FFmpegLog.Level,
        _ format: String,
        _ arguments: [any CVarArg] = []
    ) {
        var strings: [UnsafeMutablePointer<CChar>] = []
        defer { for string in strings { free(string) } }
        let converted: [any CVarArg] = arguments.map { argument in
            guard let string = argument as? String else { return argument }
            strings.append(strdup(string))
            return UnsafePointer(strings.last!)
        }
        withVaList(converted) { av_vlog(context, level.rawValue, format, $0) }
    }
}
