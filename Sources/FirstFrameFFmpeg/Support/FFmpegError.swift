import CFFmpeg
import FirstFrameCore

/// An error returned by an FFmpeg call: the negative `AVERROR` code, the call that returned it, and FFmpeg's own text
/// for it (`av_strerror`).
///
/// Match it by its code, the way swift-system's `Errno` is matched:
///
/// ```swift
/// do {
///     let packet = try input.readPacket()
/// } catch FFmpegError.Code.endOfFile {
///     // the input ended
/// } catch let error as FFmpegError where error.code == .system(ECONNRESET) {
///     // the peer reset the connection
/// }
/// ```
public struct FFmpegError: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    /// The negative code FFmpeg returned (`AVERROR(EIO)`, `AVERROR_EOF`, `AVERROR_HTTP_NOT_FOUND`, …).
    public let code: Code
    /// The FFmpeg function (or our operation) that failed, e.g. `avformat_open_input`.
    public let operation: String
    /// `av_strerror`'s text for `code`.
    public let message: String

    /// An error with `code`, from `operation`; the message is FFmpeg's text for the code.
    public init(code: Code, operation: String) {
        self.code = code
        self.operation = operation
        self.message = FFmpegError.text(for: code.rawValue)
    }

    /// An error from a raw (negative) FFmpeg return value.
    package init(code: Int32, operation: String) {
        self.init(code: Code(rawValue: code), operation: operation)
    }

    public var description: String { "\(operation): \(message) (\(code.rawValue))" }

    /// The HTTP status behind an `AVERROR_HTTP_*` code, when FFmpeg names one exactly
    /// (other 4xx statuses are reported as 4xx by FFmpeg, without the exact number).
    public var httpStatus: Int? {
        switch code {
        case .httpBadRequest: return 400
        case .httpUnauthorized: return 401
        case .httpForbidden: return 403
        case .httpNotFound: return 404
        case .httpServerError: return 500
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

extension FFmpegError {
    /// An FFmpeg error code (`AVERROR_*`, or `AVERROR(errno)`), matchable in `switch` and `catch`.
    public struct Code: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        /// The negative value FFmpeg returns.
        public let rawValue: Int32

        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// `AVERROR(number)`: the system error `number` (`EIO`, `ECONNRESET`, `ENOMEM`, …) passed on.
        public static func system(_ number: Int32) -> Code { Code(rawValue: cffmpeg_averror(number)) }

        /// `AVERROR_EOF`: the input ended.
        public static let endOfFile = Code(rawValue: CFFMPEG_AVERROR_EOF)
        /// `AVERROR_EXIT`: the interrupt callback asked FFmpeg to stop (a deadline, a cancel, a limit).
        public static let interrupted = Code(rawValue: CFFMPEG_AVERROR_EXIT)
        /// `AVERROR_INVALIDDATA`: the bytes are not what the demuxer or decoder expected.
        public static let invalidData = Code(rawValue: CFFMPEG_AVERROR_INVALIDDATA)
        /// `AVERROR(EAGAIN)`: the codec needs more input, or has more output, before this call can succeed.
        public static let tryAgain = Code(rawValue: cffmpeg_averror_eagain())
        /// `AVERROR_DECODER_NOT_FOUND`.
        public static let decoderNotFound = Code(rawValue: CFFMPEG_AVERROR_DECODER_NOT_FOUND)
        /// `AVERROR_DEMUXER_NOT_FOUND`.
        public static let demuxerNotFound = Code(rawValue: CFFMPEG_AVERROR_DEMUXER_NOT_FOUND)
        /// `AVERROR_MUXER_NOT_FOUND`.
        public static let muxerNotFound = Code(rawValue: CFFMPEG_AVERROR_MUXER_NOT_FOUND)
        /// `AVERROR_PROTOCOL_NOT_FOUND`.
        public static let protocolNotFound = Code(rawValue: CFFMPEG_AVERROR_PROTOCOL_NOT_FOUND)
        /// `AVERROR_STREAM_NOT_FOUND`.
        public static let streamNotFound = Code(rawValue: CFFMPEG_AVERROR_STREAM_NOT_FOUND)
        /// `AVERROR_HTTP_BAD_REQUEST` (400).
        public static let httpBadRequest = Code(rawValue: CFFMPEG_AVERROR_HTTP_BAD_REQUEST)
        /// `AVERROR_HTTP_UNAUTHORIZED` (401).
        public static let httpUnauthorized = Code(rawValue: CFFMPEG_AVERROR_HTTP_UNAUTHORIZED)
        /// `AVERROR_HTTP_FORBIDDEN` (403).
        public static let httpForbidden = Code(rawValue: CFFMPEG_AVERROR_HTTP_FORBIDDEN)
        /// `AVERROR_HTTP_NOT_FOUND` (404).
        public static let httpNotFound = Code(rawValue: CFFMPEG_AVERROR_HTTP_NOT_FOUND)
        /// `AVERROR_HTTP_OTHER_4XX`: a 4xx status FFmpeg does not name.
        public static let httpOther4xx = Code(rawValue: CFFMPEG_AVERROR_HTTP_OTHER_4XX)
        /// `AVERROR_HTTP_SERVER_ERROR` (5xx).
        public static let httpServerError = Code(rawValue: CFFMPEG_AVERROR_HTTP_SERVER_ERROR)

        public var description: String { FFmpegError.text(for: rawValue) }

        /// Whether `error` is an ``FFmpegError`` with this code: `catch FFmpegError.Code.endOfFile { … }`.
        public static func ~= (code: Code, error: any Error) -> Bool { (error as? FFmpegError)?.code == code }

        public init(from decoder: any Decoder) throws {
            rawValue = try decoder.singleValueContainer().decode(Int32.self)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(rawValue)
        }
    }
}
