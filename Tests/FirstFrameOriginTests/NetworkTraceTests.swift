import FirstFrame
import FirstFrameOrigin
import Foundation
import Synchronization
import Testing

extension OriginTests {
    /// The network trace reports what FFmpeg really did, to the millisecond, against the loopback origin.
    @Suite(.enabled(if: NetworkTrace.isAvailable, "the hooks interpose libc only on Linux, without sanitizers"))
    struct NetworkTraceAccuracy {
        init() { FFmpegLog.level = .quiet }

        @Test func injectedResolverDelayIsReportedAsDNSTime() async throws {
            try await withOrigin { origin in
                let slept = Mutex<UInt64>(0)
                let resolver = ClosureResolver(name: "slow") { host, _ in
                    let start = MonotonicClock.nanoseconds()
                    try? await Task.sleep(for: .milliseconds(120))
                    slept.withLock { $0 = MonotonicClock.nanoseconds() - start }
                    return DNSAnswer(addresses: [IPAddress("127.0.0.1")!])
                }
                let cache = DNSCache(configuration: .init(resolver: resolver))
                let open = try await withInstalledCache(cache) {
                    try await TracedOpen.run(origin.url(host: "stream.test"))
                }
                #expect(open.error == nil)
                let hop = try #require(open.trace.hops.first)
                let lookup = try #require(hop.lookup)
                let reported = ms(try #require(lookup.duration))
                let injected = ms(slept.withLock { $0 })
                report("DNS: injected 120 ms (resolver slept \(injected) ms), reported \(reported) ms")
                #expect(lookup.host == "stream.test")
                #expect(lookup.source == .resolver)
                #expect(lookup.answers.map(\.description) == ["127.0.0.1:\(origin.port)"])
                #expect(abs(reported - 120) <= 3)
                #expect(abs(reported - injected) <= 3)
                #expect(hop.kind == .http)
                #expect(hop.status == 200)
                #expect(hop.url == "http://stream.test:\(origin.port)/gop/stream.flv")
                #expect(hop.connects.count == 1)
                #expect(hop.connects.first?.outcome == .connected)
            }
        }
    }
}
