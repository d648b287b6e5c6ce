import CFFmpeg
import FirstFrameCore

/// An error returned by an FFmpeg call: the negative `AVERROR` code, the call that returned it,
/// and FFmpeg's own text for it (`av_strerror`).
public struct FFmpegError: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    /// The negative code FFmpeg returned (`AVERROR(EIO)`, `AVERROR_EOF`, `AVERROR_HTTP_NOT_FOUND`, …).
    public let code: Int32
    /// The FFmpeg function (or our operation) that failed, e.g. `avformat_open_input`.
    public let operation: String
    /// `av_strerror`'s text for `code`.
    public let message: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
        self.message = FFmpegError.text(for: code)
    }

    public var description: String { "\(operation): \(message) (\(code))" }

    /// The error FFmpeg reports when a stream ends.
    public var isEndOfFile: Bool { code == CFFMPEG_AVERROR_EOF }
    /// `AVERROR(EAGAIN)`: the codec needs more input, or has more output, before this call can succeed.
    public var isTryAgain: Bool { code == cffmpeg_averror_eagain() }
    /// `AVERROR_EXIT`: the interrupt callback asked FFmpeg to stop.
    public var isInterrupted: Bool { code == CFFMPEG_AVERROR_EXIT }
    /// `AVERROR_INVALIDDATA`: the bytes are not what the demuxer or decoder expected.
    public var isInvalidData: Bool { code == CFFMPEG_AVERROR_INVALIDDATA }
    /// Whether the code is `AVERROR(number)`: the system error `number` (`EIO`, `ECONNRESET`, …) passed on.
    package func isSystemError(_ number: Int32) -> Bool { code == cffmpeg_averror(number) }

    /// The HTTP status behind an `AVERROR_HTTP_*` code, when FFmpeg names one exactly
    /// (other 4xx statuses are reported as 4xx by FFmpeg, without the exact number).
    public var httpStatus: Int? {
        switch code {
        case CFFMPEG_AVERROR_HTTP_BAD_REQUEST: return 400
        case CFFMPEG_AVERROR_HTTP_UNAUTHORIZED: return 401
        case CFFMPEG_AVERROR_HTTP_FORBIDDEN: return 403
        case CFFMPEG_AVERROR_HTTP_NOT_FOUND: return 404
        case CFFMPEG_AVERROR_HTTP_SERVER_ERROR: return 500
        default: return nil
        }
    }

    /// `av_strerror` for any code, positive errno values included.
    public static func text(for code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(CFFMPEG_AV_ERROR_MAX_STRING_SIZE))
        av_strerror(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Throws when an FFmpeg return value is negative; returns it otherwise.
    @discardableResult
    public static func check(_ result: Int32, _ operation: @autoclosure () -> String) throws(FFmpegError) -> Int32 {
        if result < 0 { throw FFmpegError(code: result, operation: operation()) }
        return result
    }
}
