import CFFmpeg
import FirstFrame
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

#if canImport(Glibc)
import Glibc
import FirstFrameNetwork
import FirstFrameFFmpeg
#endif

extension OriginTests {
    /// FFmpeg's own lookup, bounded by the open's deadline through the DNS cache (libc's getaddrinfo never is).
    @Suite struct LookupDeadline {
        @Test(.enabled(if: NetworkTrace.isAvailable))
        func ffmpegLookupHonoursTheOpensDeadline() async throws {
            let probe = ResolverProbe()
            let cache = DNSCache(configuration: .init(resolver: probe.resolver(delay: .seconds(5))))
            let (error, trace, elapsed) = try await withInstalledCache(cache) {
                try await blocking { () -> (FFmpegError?, NetworkTrace, Double) in
                    let start = MonotonicClock.nanoseconds()
                    let interrupter = Interrupter(timeout: .milliseconds(200))
                    let (error, trace) = NetworkTrace.capture { () -> FFmpegError? in
                        DNSCache.withLookupDeadline(interrupter) {
                            do throws(FFmpegError) {
                                _ = try InputFormatContext(
                                    url: "http://never.test/live/stream.flv",
                                    interrupter: interrupter
                                )
                                return nil
                            } catch {
                                return error
                            }
                        }
                    }
                    return (error, trace, MonotonicClock.milliseconds(since: start))
                }
            }
            report("FFmpeg open with a 200 ms deadline and a 5 s resolver: failed after \(elapsed) ms")
            #expect(error != nil)
            #expect(elapsed < 1000, "stock getaddrinfo would have held FFmpeg for the resolver's 5 s")
            let lookup = try #require(trace.hops.first?.lookup)
            #expect(lookup.errorCode == EAI_AGAIN)
            #expect(lookup.error?.contains("deadline") == true)
        }

    }
}
