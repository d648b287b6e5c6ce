import FirstFrameCore
import CFFmpeg

/// FFmpeg's global log level (`av_log_set_level`). FFmpeg prints to stderr by default; tests and the
/// CLI quieten it so that what they print is theirs.
public enum FFmpegLog {
    /// FFmpeg's `AV_LOG_*` levels.
    public enum Level: Int32, Sendable {
        case quiet = -8, panic = 0, fatal = 8, error = 16, warning = 24, info = 32, verbose = 40, debug = 48, trace = 56
    }

    public static var level: Level {
        get { Level(rawValue: av_log_get_level()) ?? .info }
        set { av_log_set_level(newValue.rawValue) }
    }
}
