import CFFmpeg
import FirstFrameCore
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// FFmpeg's own log lines: where they go, and how many of them.
///
/// By default FFmpeg prints its lines to stderr itself (`[tcp @ 0x…] Connection to tcp://… failed`), behind
/// swift-log's back, filtered only by ``level``. ``routeToSwiftLog(fallback:)`` sends them to swift-log instead:
/// each line goes to the `Logger` registered for the thread that logged it (``withLogger(_:metadata:_:)``: the
/// opener registers its logger on each open's thread and on the kept stream's reads), or else to the process-wide
/// ``fallback``.
///
/// ```swift
/// FFmpegLog.routeToSwiftLog()                      // once, at start-up; after LoggingSystem.bootstrap, if any
/// var logger = Logger(label: "com.example.player.open")
/// logger.logLevel = .debug                         // FFmpeg's VERBOSE lines too ("Starting connection attempt…")
/// let opener = StreamOpener(preset: .instant, logger: logger)
/// ```
///
/// Levels map as AV_LOG_PANIC and AV_LOG_FATAL → `critical`, ERROR → `error`, WARNING → `warning`, INFO → `info`,
/// VERBOSE → `debug`, DEBUG and TRACE → `trace`. Every line carries the metadata ``componentMetadataKey``
/// (`ffmpeg.component`: the name of the FFmpeg object that logged it — `tcp`, `http`, `tls`, `flv`, `h264`, …) and
/// ``levelMetadataKey`` (`ffmpeg.level`: FFmpeg's own level name, ``Level/name``), besides whatever the logger
/// carries (the opener's: the redacted `url`, and the `stage` the open was in). The text is FFmpeg's line without
/// its `[component @ 0x…]` prefix and newline; lines FFmpeg writes in pieces are joined first.
///
/// Two kinds of lines FFmpeg logs as errors describe the normal end of a live input, and are logged at `debug`
/// (their ``levelMetadataKey`` still names FFmpeg's own level):
/// - http's `Stream ends prematurely at N, should be 18446744073709551615`: a response of unknown length (a live
///   stream without `Content-Length`) ended; there was no length to end before.
/// - what the demuxer's parser says about a packet cut short by the input's end, or by an interrupted read (a
///   read timeout, or `close()` while another thread reads: `Packet corrupt (…)`, then `Invalid NAL unit size (…)`,
///   `missing picture in access unit …`): the lines are held back by `InputFormatContext.read(into:)` until the
///   next read; when it returns a packet (the input went on, the cut packet was real media) they go out at their
///   own level, and when the input ends or is closed there, at `debug`. Whatever the logger's level: the
///   demuxer's word is a warning, the parser's lines are errors.
///
/// The userinfo of every URL in a line (`Opening 'http://user:password@host/…' for reading`) is replaced by `***`.
///
/// FFmpeg's DEBUG lines (swift-log `trace`) include each HTTP request it sends, headers and all (an
/// `Authorization` or `Cookie` header among them): keep `trace` off where URLs or headers carry credentials.
public enum FFmpegLog {
    /// FFmpeg's `AV_LOG_*` levels.
    public enum Level: Int32, Sendable, CaseIterable {
        case quiet = -8
        case panic = 0
        case fatal = 8
        case error = 16
        case warning = 24
        case info = 32
        case verbose = 40
        case debug = 48
        case trace = 56

        /// FFmpeg's name for the level (`"warning"`, `"verbose"`, …): the value of ``levelMetadataKey``.
        public var name: String {
            switch self {
            case .quiet: "quiet"
            case .panic: "panic"
            case .fatal: "fatal"
            case .error: "error"
            case .warning: "warning"
            case .info: "info"
            case .verbose: "verbose"
            case .debug: "debug"
            case .trace: "trace"
            }
        }

        /// The swift-log level FFmpeg's lines at this level are logged at; nil for ``quiet`` (no line has it).
        public var loggerLevel: Logger.Level? {
            self == .quiet ? nil : FFmpegLog.loggerLevel(forFFmpegLevel: rawValue)
        }
    }

    /// FFmpeg's global log level (`av_log_set_level`).
    ///
    /// Before ``routeToSwiftLog(fallback:)`` it is all there is: FFmpeg prints the lines at or above it to stderr
    /// (tests and tools set ``Level/quiet`` so that what they print is theirs). Once routed it is a floor for the
    /// lines that go to the ``fallback`` only: a line of a thread with a registered logger
    /// (``withLogger(_:metadata:_:)``) is filtered by that logger's `logLevel` alone — whoever registered it chose
    /// what the open logs, whatever another part of the process set here.
    public static var level: Level {
        get { Level(rawValue: av_log_get_level()) ?? .info }
        set { av_log_set_level(newValue.rawValue) }
    }

    /// The metadata key naming the FFmpeg object a line came from (`AVClass.item_name`: `tcp`, `http`, `flv`, …).
    public static let componentMetadataKey = "ffmpeg.component"
    /// The metadata key holding FFmpeg's own level of a line (``Level/name``, or the number for a level between).
    public static let levelMetadataKey = "ffmpeg.level"

    // MARK: Routing

    /// Sends FFmpeg's log lines to swift-log from now on, for the whole process (`av_log_set_callback`).
    ///
    /// Safe to call any number of times, from any thread: the callback is installed once, and it replaces
    /// whatever callback was set before (FFmpeg's stderr printer, or one of your own). Until it is called, loggers
    /// registered with ``withLogger(_:metadata:_:)`` receive nothing: FFmpeg prints as it always did.
    ///
    /// - Parameter fallback: the logger for lines of threads with no registered logger (FFmpeg's decoder threads,
    ///   a muxer of your own, anything outside an open); nil keeps the current ``fallback``.
    public static func routeToSwiftLog(fallback: Logger? = nil) {
        if let fallback { self.fallback = fallback }
        installation.withLock { installed in
            guard !installed else { return }
            av_log_set_callback { context, level, format, arguments in
                guard let arguments else { return }
                FFmpegLogRouter.receive(context, level, format, arguments)
            }
            installed = true
        }
    }

    /// Whether ``routeToSwiftLog(fallback:)`` has been called.
    public static var isRoutedToSwiftLog: Bool { installation.withLock { $0 } }

    /// Where routed lines of threads with no registered logger go (also bounded by ``level``).
    ///
    /// Defaults to `Logger(label: "FFmpeg")` at `warning`: swift-log's default handler prints `info` and up to
    /// stderr, which would bring FFmpeg's chatter back to the terminal the routing took it from.
    public static var fallback: Logger {
        get { fallbackLogger.withLock { $0 } }
        set { fallbackLogger.withLock { $0 = newValue } }
    }

    /// Runs `body` with FFmpeg's lines logged on this thread going to `logger` (once routed). Registrations nest:
    /// the innermost wins, and the previous one is back when `body` returns. A line left unfinished (FFmpeg logs
    /// lines in pieces) is logged when `body` returns.
    ///
    /// A thread, not a task: FFmpeg logs from the thread that calls it, and the blocking calls run on threads of
    /// their own (`DedicatedThread`), never on Swift's cooperative pool. Threads FFmpeg starts itself (a
    /// frame-threaded decoder's) are not this thread: their lines go to the ``fallback``.
    ///
    /// - Parameters:
    ///   - logger: receives the lines its `logLevel` lets through; lines it would drop are not even formatted.
    ///   - metadata: called on this thread for each line logged, merged over the logger's metadata (what changes
    ///     while `body` runs: the opener's `stage`). It must not block or call FFmpeg.
    public static func withLogger<Result, Failure: Error>(
        _ logger: Logger,
        metadata: (() -> Logger.Metadata)? = nil,
        _ body: () throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let state = FFmpegLogRouter.ThreadState.current(creating: true)!
        state.registrations.append(.init(logger: logger, metadata: metadata))
        defer {
            state.flushPending()
            state.registrations.removeLast()
        }
        return try body()
    }

    private static let installation = Mutex(false)
    private static let fallbackLogger = Mutex(
        {
            var logger = Logger(label: "FFmpeg")
            logger.logLevel = .warning
            return logger
        }()
    )

    /// The swift-log level of an FFmpeg level (levels between FFmpeg's named ones count as the next quieter one).
    static func loggerLevel(forFFmpegLevel level: Int32) -> Logger.Level {
        switch level {
        case ...Level.fatal.rawValue: .critical
        case ...Level.error.rawValue: .error
        case ...Level.warning.rawValue: .warning
        case ...Level.info.rawValue: .info
        case ...Level.verbose.rawValue: .debug
        default: .trace
        }
    }
}

/// The `av_log` callback behind ``FFmpegLog/routeToSwiftLog(fallback:)``.
enum FFmpegLogRouter {
    /// What one thread has registered, and the line it is in the middle of. Only its own thread touches it (a
    /// pthread key holds it, and frees it when the thread ends).
    final class ThreadState {
        struct Registration {
            var logger: Logger
            var metadata: (() -> Logger.Metadata)?
        }

        /// A line FFmpeg has logged the start of, without its newline yet.
        struct PendingLine {
            var text: String
            var level: Int32
            var component: String?
            /// nil: the fallback's.
            var registration: Registration?
        }

        var registrations: [Registration] = []
        var pending: PendingLine?
        /// Set while `InputFormatContext.read(into:)` runs on this thread.
        var capture: ReadCapture?

        static func current(creating: Bool) -> ThreadState? {
            if let raw = pthread_getspecific(threadStateKey) {
                return Unmanaged<ThreadState>.fromOpaque(raw).takeUnretainedValue()
            }
            guard creating else { return nil }
            let state = ThreadState()
            pthread_setspecific(threadStateKey, Unmanaged.passRetained(state).toOpaque())
            return state
        }

        /// Logs the unfinished line as it is.
        func flushPending() {
            guard let line = pending else { return }
            pending = nil
            FFmpegLogRouter.emit(
                line.text,
                level: line.level,
                component: line.component,
                registration: line.registration
            )
        }
    }

    static func receive(
        _ context: UnsafeMutableRawPointer?,
        _ level: Int32,
        _ format: UnsafePointer<CChar>?,
        _ arguments: CVaListPointer
    ) {
        // AV_LOG_QUIET is how FFmpeg flushes its own "last message repeated" state: never a line.
        guard level >= 0, let format else { return }
        let state = ThreadState.current(creating: false)
        if let state, state.capture != nil { noteCutPacket(format, state) }
        if var line = state?.pending {
            // The rest of a line already wanted, whatever this piece's level (FFmpeg's printer joins them too).
            state!.pending = nil
            if line.component == nil { line.component = component(of: context) }
            line.text += text(context, level, format, arguments)
            deliver(line, state: state)
            return
        }
        let registration = state?.registrations.last
        let loggerLevel = FFmpegLog.loggerLevel(forFFmpegLevel: level)
        if let registration {
            guard registration.logger.logLevel <= loggerLevel else { return }
        } else {
            guard level <= av_log_get_level(), FFmpegLog.fallback.logLevel <= loggerLevel else { return }
        }
        let line = ThreadState.PendingLine(
            text: text(context, level, format, arguments),
            level: level,
            component: component(of: context),
            registration: registration
        )
        deliver(line, state: state)
    }

    /// Starts (or, for a packet the demuxer drops, stops) holding back a read's lines at the demuxer's word that
    /// the packet it returns was cut short (`Packet corrupt (…)`, then `.` or `, dropping it.`). Looked for here,
    /// before any level filter: that word is a warning, which a logger at `error` never sees, while the parser's
    /// lines about the same packet after it are errors.
    private static func noteCutPacket(_ format: UnsafePointer<CChar>, _ state: ThreadState) {
        guard var capture = state.capture else { return }
        if !capture.holding, strncmp(format, "Packet corrupt (", 16) == 0 {
            capture.holding = true
        } else if capture.holding, strncmp(format, ", dropping it.", 14) == 0 {
            capture.holding = false
        } else {
            return
        }
        state.capture = capture
    }

    /// Logs each whole line of `line`, and keeps what follows the last newline as the thread's pending line.
    private static func deliver(_ line: ThreadState.PendingLine, state: ThreadState?) {
        var rest = Substring(line.text)
        while let end = rest.firstIndex(where: \.isNewline) {
            let whole = rest[..<end]
            rest = rest[rest.index(after: end)...]
            if !whole.isEmpty {
                emit(String(whole), level: line.level, component: line.component, registration: line.registration)
            }
        }
        guard !rest.isEmpty else { return }
        var pending = line
        pending.text = String(rest)
        (state ?? ThreadState.current(creating: true)!).pending = pending
    }

    fileprivate static func emit(
        _ text: String,
        level: Int32,
        component: String?,
        registration: ThreadState.Registration?
    ) {
        var metadata = registration?.metadata?() ?? [:]
        metadata[FFmpegLog.levelMetadataKey] = .string(FFmpegLog.Level(rawValue: level)?.name ?? String(level))
        if let component { metadata[FFmpegLog.componentMetadataKey] = .string(component) }
        let loggerLevel = isEndOfUnknownLength(text) ? .debug : FFmpegLog.loggerLevel(forFFmpegLevel: level)
        // FFmpeg names the URLs it opens with their credentials; no log line carries them.
        let line = FFmpegLogLine(
            text: URLRedaction.redactingUserinfo(in: text),
            level: loggerLevel,
            metadata: metadata,
            logger: registration?.logger ?? FFmpegLog.fallback
        )
        if let state = ThreadState.current(creating: false), var capture = state.capture, capture.holding {
            // From the demuxer's word that the packet it returns was cut short (``noteCutPacket(_:_:)``), hold
            // the read's lines back.
            capture.lines.append(line)
            state.capture = capture
            return
        }
        line.write()
    }

    /// http's line when a response without a length ends (`should be` UINT64_MAX: the length was unknown).
    static func isEndOfUnknownLength(_ text: String) -> Bool {
        text.hasPrefix("Stream ends prematurely at ") && text.hasSuffix(", should be \(UInt64.max)")
    }

    /// What a read running on this thread has held back so far.
    struct ReadCapture {
        var holding = false
        var lines: [FFmpegLogLine] = []
    }

    /// Starts holding back this thread's lines about a cut packet (``emit(_:level:component:registration:)``)
    /// for one `av_read_frame`; returns what to hand ``endReadCapture(restoring:)``.
    static func beginReadCapture() -> ReadCapture? {
        let state = ThreadState.current(creating: true)!
        defer { state.capture = ReadCapture() }
        return state.capture
    }

    /// Ends the read's capture: the lines held back (none unless the demuxer reported a cut packet).
    static func endReadCapture(restoring previous: ReadCapture?) -> [FFmpegLogLine] {
        guard let state = ThreadState.current(creating: false) else { return [] }
        // A line the read left unfinished belongs to what it held.
        if state.capture?.holding == true { state.flushPending() }
        let lines = state.capture?.lines ?? []
        state.capture = previous
        return lines
    }

    /// The piece FFmpeg logged, formatted as its own printer would, without the `[component @ 0x…]` prefix.
    private static func text(
        _ context: UnsafeMutableRawPointer?,
        _ level: Int32,
        _ format: UnsafePointer<CChar>,
        _ arguments: CVaListPointer
    ) -> String {
        let size: Int32 = 1024
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(size)) { buffer in
            var printPrefix: Int32 = 0
            let length = av_log_format_line2(context, level, format, arguments, buffer.baseAddress, size, &printPrefix)
            guard length >= 0 else { return "" }
            if length < size { return String(cString: buffer.baseAddress!) }
            // Longer than FFmpeg's own printer keeps: format again (av_vbprintf works on a va_copy of the arguments).
            var large = [CChar](repeating: 0, count: Int(length) + 1)
            printPrefix = 0
            _ = av_log_format_line2(context, level, format, arguments, &large, Int32(large.count), &printPrefix)
            return String(cString: large)
        }
    }

    /// `AVClass.item_name` of the context that logged (a URLContext names its protocol, a format context its
    /// format, a codec context its codec).
    private static func component(of context: UnsafeMutableRawPointer?) -> String? {
        guard let context, let avClass = context.load(as: UnsafePointer<AVClass>?.self) else { return nil }
        if let itemName = avClass.pointee.item_name, let name = itemName(context) { return String(cString: name) }
        return avClass.pointee.class_name.map { String(cString: $0) }
    }
}

/// Each thread's ``FFmpegLogRouter/ThreadState``, released when the thread ends.
private let threadStateKey: pthread_key_t = {
    var key = pthread_key_t()
    let status = pthread_key_create(&key) { raw in
        #if canImport(Glibc)
        guard let raw else { return }
        #endif
        let state = Unmanaged<FFmpegLogRouter.ThreadState>.fromOpaque(raw).takeRetainedValue()
        state.flushPending()
    }
    precondition(status == 0, "pthread_key_create: \(status)")
    return key
}()

/// One routed line, formatted and with its metadata (taken on the thread that logged it), that can be written
/// later: what `InputFormatContext.read(into:)` holds back while it cannot tell whether its packet is real media.
struct FFmpegLogLine: Sendable {
    var text: String
    var level: Logger.Level
    var metadata: Logger.Metadata
    var logger: Logger

    /// Logs the line at its level, or at `debug` when `demoted`.
    func write(demoted: Bool = false) {
        logger.log(level: demoted ? .debug : level, "\(text)", metadata: metadata, source: "FFmpeg")
    }
}
