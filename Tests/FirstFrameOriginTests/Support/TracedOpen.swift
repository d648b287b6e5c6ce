import CNetworkHooks
import FirstFrame
import FirstFrameOrigin
import Foundation
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
                    _ = try InputFormatContext(url: url, interrupter: Interrupter(timeout: timeout))
                    return nil
                } catch {
                    return error
                }
            }
            return TracedOpen(error: error, trace: trace, start: start)
        }
    }
}

/// Installs `cache` for FFmpeg's lookups for the duration of `body`, and always uninstalls it. Every addrinfo
/// list the cache handed out must have been freed by then (FFmpeg frees them through the freeaddrinfo hook).
func withInstalledCache<T>(_ cache: DNSCache, _ body: () async throws -> T) async rethrows -> T {
    let listsBefore = cnh_addrinfo_live_count()
    cache.install()
    defer {
        DNSCache.uninstall()
        cache.shutdown()
        #expect(cnh_addrinfo_live_count() == listsBefore, "addrinfo lists leaked")
    }
    return try await body()
}

/// Nanoseconds as fractional milliseconds.
func ms(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e6 }

extension LiveOrigin {
    /// This origin's URL with the host replaced by a name (resolved through the DNS cache in tests).
    func url(host name: String, _ mode: JoinMode = .gop, query: String = "") -> String {
        "http://\(name):\(port)/\(mode.rawValue)/stream.flv\(query.isEmpty ? "" : "?" + query)"
    }
}
