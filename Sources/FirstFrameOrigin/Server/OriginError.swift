import FirstFrameCore
import FirstFrameFFmpeg

/// Errors the origin reports when it cannot start.
public enum OriginError: Error, Sendable, CustomStringConvertible {
    /// A configuration value is out of range; the message names it.
    case invalidConfiguration(String)
    /// Synthesising the channel's media failed in FFmpeg.
    case mediaSynthesis(FFmpegError)
    /// The muxed media did not split into the tags a channel needs.
    case malformedMedia(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let message): "invalid origin configuration: \(message)"
        case .mediaSynthesis(let error): "media synthesis failed: \(error)"
        case .malformedMedia(let message): "synthesised media is malformed: \(message)"
        }
    }
}
