import CNetworkHooks
import FirstFrame
import FirstFrameFFmpeg
import FirstFrameNetwork
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

/// An FFmpeg `avformat_open_input` run with the network trace on, on a thread of its own.
struct TracedOpen: Sendable {
    var error: FFmpegError?
    var trace: NetworkTrace
    /// When the open was asked for (`MonotonicClock` ns).
    var start: UInt64

    static func run(_ url: String, timeout: Double = 10) async throws -> TracedOpen {
        try await blocking {
            let start = MonotonicClock.nanoseconds()
            let (error, trace) = NetworkTrace.capture { () -> FFmpegError? in
                do throws(FFmpegError) {
                    _ = try InputFormatContext(url: url, interrupter: Interrupter(timeout: .seconds(timeout)))
                    return nil
                } catch {
                    return error
                }
            }
            return TracedOpen(error: error, trace: trace, start: start)
        }
    }
}
