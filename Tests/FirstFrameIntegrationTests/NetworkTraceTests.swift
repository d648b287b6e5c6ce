import FirstFrame
import FirstFrameFFmpeg
import FirstFrameNetwork
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
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

extension OriginTests.NetworkTraceAccuracy {
    @Test func slowKernelConnectIsReportedAsConnectTime() async throws {
        try await withOrigin { origin in
            let listener = try BlockedListener()
            let accepted = Mutex<UInt64>(0)
            // The scenario: the queue stays full for 0.5 s, so the client's first SYN is dropped and its
            // retry (about 1 s after the first) gets in. The test's accept marks when the connect completed.
            let server = Thread {
                Thread.sleep(forTimeInterval: 0.5)
                let filler = listener.acceptFiller()
                let connection = listener.accept()
                accepted.withLock { $0 = connection.time }
                close(filler)
                relay(connection.fd, toPort: origin.port)
            }
            server.start()
            let cache = DNSCache(
                configuration: .init(resolver: StaticResolver(["slow.test": [IPAddress("127.0.0.1")!]]))
            )
            let url = "http://slow.test:\(listener.port)/gop/stream.flv"
            let open = try await withInstalledCache(cache) { try await TracedOpen.run(url) }
            #expect(open.error == nil)
            let hop = try #require(open.trace.hops.first)
            let attempt = try #require(hop.connects.first)
            let end = try #require(attempt.end)
            let acceptedAt = accepted.withLock { $0 }
            let reported = ms(end - attempt.start)
            let observed = ms(acceptedAt - attempt.start)
            report("slow connect: reported \(reported) ms, observed by the server's accept \(observed) ms")
            #expect(hop.connects.count == 1)
            #expect(attempt.outcome == .connected)
            #expect(reported > 900 && reported < 2500, "the SYN retry takes about a second")
            #expect(abs(reported - observed) <= 3)
            #expect(hop.status == 200)
        }
    }

    @Test func responseDelayShowsInTheResponseStage() async throws {
        try await withOrigin { origin in
            let plain = try await TracedOpen.run(origin.url(.gop))
            let delayed = try await TracedOpen.run(
                origin.url(.gop, behaviour: Behaviour(responseDelayMilliseconds: 200))
            )
            #expect(plain.error == nil && delayed.error == nil)
            func wait(_ open: TracedOpen) throws -> Double {
                let hop = try #require(open.trace.hops.first)
                return ms(try #require(hop.responseStart) - (try #require(hop.requestStart)))
            }
            let plainWait = try wait(plain)
            let delayedWait = try wait(delayed)
            report("response: delay 200 ms reported as \(delayedWait) ms (no delay: \(plainWait) ms)")
            // The origin's delay is an event-loop timer: it never fires early, and may fire a scheduling quantum late
            // on a busy machine (measured up to ~8 ms on two cores). What the report must not do is show less than
            // the wait, or put it in another stage.
            #expect(delayedWait >= 200 && delayedWait <= 220)
            #expect(delayedWait - plainWait >= 199 && delayedWait - plainWait <= 220)
            #expect(delayed.trace.hops.first?.lookup?.source == .literal)
        }
    }

    @Test func crossHostRedirectIsTwoHopsEachWithItsOwnLookupAndConnect() async throws {
        try await withOrigin { first in
            try await withOrigin(OriginConfiguration(host: "127.0.0.2")) { second in
                let target = second.url(host: "b.test")
                let cache = DNSCache(
                    configuration: .init(
                        resolver: StaticResolver([
                            "a.test": [IPAddress("127.0.0.1")!], "b.test": [IPAddress("127.0.0.2")!],
                        ])
                    )
                )
                let url = first.url(
                    host: "a.test",
                    query: "redirect=" + target.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                )
                let open = try await withInstalledCache(cache) { try await TracedOpen.run(url) }
                #expect(open.error == nil)
                let hops = open.trace.hops
                try #require(hops.count == 2)
                #expect(hops[0].lookup?.host == "a.test")
                #expect(hops[0].remote == SocketAddress(address: IPAddress("127.0.0.1")!, port: first.port))
                #expect(hops[0].status == 302)
                #expect(hops[0].redirectTo == target)
                #expect(hops[1].lookup?.host == "b.test")
                #expect(hops[1].remote == SocketAddress(address: IPAddress("127.0.0.2")!, port: second.port))
                #expect(hops[1].url == target)
                #expect(hops[1].status == 200)
                for hop in hops {
                    #expect(hop.connects.count == 1)
                    #expect(hop.lookup?.source == .resolver)
                    let lookupEnd = try #require(hop.lookup?.end)
                    let connect = try #require(hop.connects.first)
                    #expect(lookupEnd <= connect.start)
                    #expect(try #require(connect.end) <= (try #require(hop.requestStart)))
                    #expect(try #require(hop.requestStart) <= (try #require(hop.responseStart)))
                }
                #expect(try #require(hops[0].responseStart) <= (try #require(hops[1].lookup?.start)))
                report(
                    "redirect: hop 1 a.test dns \(ms(hops[0].lookup!.duration!)) ms, hop 2 b.test dns \(ms(hops[1].lookup!.duration!)) ms"
                )
            }
        }
    }
}

extension OriginTests.NetworkTraceAccuracy {
    /// FFmpeg races addresses (RFC 8305): a second attempt starts 200 ms after a silent first one. The trace
    /// shows both, and the cache, told by the trace, puts the dead address last for the next open.
    @Test func happyEyeballsShowsEveryAttemptAndTheCacheDemotesTheDeadAddress() async throws {
        try await withOrigin { origin in
            // Same port as the origin, another loopback address, accept queue full: SYNs go unanswered.
            let blackHole = try BlockedListener(address: "127.0.0.5", port: origin.port)
            let cache = DNSCache(
                configuration: .init(
                    resolver: StaticResolver([
                        "eyeballs.test": [IPAddress("127.0.0.5")!, IPAddress("127.0.0.1")!]
                    ])
                )
            )
            let url = origin.url(host: "eyeballs.test")
            let (first, second) = try await withInstalledCache(cache) {
                (try await TracedOpen.run(url), try await TracedOpen.run(url))
            }
            withExtendedLifetime(blackHole) {}
            #expect(first.error == nil && second.error == nil)
            let raced = try #require(first.trace.hops.first).connects
            try #require(raced.count == 2)
            #expect(raced[0].address.address == IPAddress("127.0.0.5"))
            #expect(raced[0].outcome == .abandoned)
            #expect(raced[1].address.address == IPAddress("127.0.0.1"))
            #expect(raced[1].outcome == .connected)
            let stagger = ms(raced[1].start - raced[0].start)
            report(
                "happy eyeballs: second attempt \(stagger) ms after the first; first abandoned after \(ms(raced[0].duration ?? 0)) ms"
            )
            #expect(stagger >= 195 && stagger < 400, "FFmpeg staggers attempts by 200 ms")
            let after = try #require(second.trace.hops.first).connects
            #expect(after.map(\.address.address) == [IPAddress("127.0.0.1")!])
            #expect(cache.stats.demotions == 1)
        }
    }

    @Test func refusedAddressFailsAtOnceAndTheNextIsTried() async throws {
        try await withOrigin { origin in
            let cache = DNSCache(
                configuration: .init(
                    resolver: StaticResolver([
                        "refused.test": [IPAddress("127.0.0.6")!, IPAddress("127.0.0.1")!]
                    ])
                )
            )
            let open = try await withInstalledCache(cache) {
                try await TracedOpen.run(origin.url(host: "refused.test"))
            }
            #expect(open.error == nil)
            let attempts = try #require(open.trace.hops.first).connects
            try #require(attempts.count == 2)
            #expect(attempts[0].outcome == .failed)
            #expect(attempts[0].errorCode == ECONNREFUSED)
            #expect(attempts[1].outcome == .connected)
            #expect(ms(attempts[1].start - attempts[0].start) < 50, "a refusal needs no 200 ms wait")
            #expect(cache.stats.demotions == 1)
        }
    }

    /// Tracing is per thread: 50 threads capturing at once each see only their own socket.
    @Test func concurrentCapturesNeverMixEvents() async throws {
        try await withOrigin { origin in
            let threads = 50
            let traces = Mutex<[Int: (fd: Int32, trace: NetworkTrace)]>([:])
            let done = DispatchGroup()
            let start = DispatchSemaphore(value: 0)
            for index in 0..<threads {
                done.enter()
                Thread {
                    start.wait()
                    let url = origin.url(.gop, behaviour: Behaviour(responseDelayMilliseconds: index))
                    let (fd, trace) = NetworkTrace.capture { () -> Int32 in
                        guard let client = try? RawHTTPClient(url: url) else { return -1 }
                        try? client.sendRequest()
                        _ = try? client.readHead(timeout: 10)
                        return client.fd
                    }
                    traces.withLock { $0[index] = (fd, trace) }
                    done.leave()
                }.start()
            }
            for _ in 0..<threads { start.signal() }
            try await blocking { done.wait() }
            let all = traces.withLock { $0 }
            #expect(all.count == threads)
            for (index, captured) in all {
                let hops = captured.trace.hops
                #expect(hops.count == 1)
                #expect(captured.trace.events.allSatisfy { $0.fd == captured.fd || $0.fd == -1 })
                #expect(hops.first?.url?.hasSuffix("delay=\(index)") == true || index == 0)
                #expect(hops.first?.status == 200)
                if let hop = hops.first, let request = hop.requestStart, let response = hop.responseStart {
                    #expect(ms(response - request) >= Double(index))
                }
            }
        }
    }
}

extension OriginTests.NetworkTraceAccuracy {
    /// HTTPS: FFmpeg's gnutls client against OpenSSL. The gnutls hook brackets the handshake exactly; the
    /// record-type reading (what remains without it, e.g. an OpenSSL build of FFmpeg) must agree with it.
    @Test(
        .enabled(if: OpenSSLServer.isAvailable, "needs the openssl binary (make deps installs it)"),
        arguments: ["-tls1_2", "-tls1_3"]
    )
    func tlsHandshakeIsItsOwnStage(_ version: String) async throws {
        let program = try ChannelProgram.synthesized(MediaConfiguration())
        var flv = program.header.encoded()
        for tag in [program.metadata].compactMap({ $0 }) + program.sequenceHeaders + program.media.prefix(60) {
            flv += tag.encoded()
        }
        let server = try OpenSSLServer(version: version, files: ["stream.flv": flv])
        defer { server.stop() }
        let cache = DNSCache(configuration: .init(resolver: StaticResolver(["tls.test": [IPAddress("127.0.0.1")!]])))
        let open = try await withInstalledCache(cache) {
            try await TracedOpen.run("https://tls.test:\(server.port)/stream.flv")
        }
        #expect(open.error == nil)
        let hop = try #require(open.trace.hops.first)
        #expect(hop.kind == .tls)
        let connected = try #require(hop.establishedConnect?.end)
        let tlsStart = try #require(hop.secureConnectionStart)
        let tlsEnd = try #require(hop.secureConnectionEnd)
        let request = try #require(hop.requestStart)
        let response = try #require(hop.responseStart)
        #expect(connected <= tlsStart && tlsStart < tlsEnd && tlsEnd <= request && request < response)
        // gnutls's plaintext: the request line and the response head, as for plain HTTP.
        #expect(hop.url == "https://tls.test:\(server.port)/stream.flv")
        #expect(hop.status == 200)
        #expect(open.trace.hops.count == 1, "the session's close_notify is not a request")

        // The same events without the gnutls hooks' (another TLS library): the record types alone.
        let unbracketed = NetworkTrace(
            start: open.trace.start,
            end: open.trace.end,
            events: open.trace.events.filter {
                ![.tlsHandshakeStart, .tlsHandshakeEnd, .tlsSend, .tlsReceive].contains($0.kind)
            }
        )
        let inferred = try #require(unbracketed.hops.first)
        #expect(inferred.kind == .tls)
        let inferredStart = try #require(inferred.secureConnectionStart)
        let inferredEnd = try #require(inferred.secureConnectionEnd)
        report(
            "TLS \(version): handshake \(ms(tlsEnd - tlsStart)) ms (gnutls hook), \(ms(inferredEnd - inferredStart)) ms (record types); request → response \(ms(response - request)) ms"
        )
        // The ClientHello leaves after gnutls has generated its key share (CPU time inside the hook's bracket);
        // the handshake's end and the request are a few calls apart.
        #expect(inferredStart >= tlsStart && ms(inferredStart - tlsStart) < 10)
        #expect(abs(ms(inferredEnd) - ms(tlsEnd)) < 5)
        // The request's bytes leave inside gnutls_record_send; the first encrypted bytes back may be a TLS 1.3
        // session ticket, so without the plaintext the response can only look earlier.
        #expect(abs(ms(try #require(inferred.requestStart)) - ms(request)) < 5)
        #expect(try #require(inferred.responseStart) <= response)
        #expect(inferred.status == nil, "encrypted: no status without the plaintext")
    }
}

extension OriginTests.NetworkTraceAccuracy {
    @Test func unknownHostIsReportedAndThenAnsweredFromTheNegativeCache() async throws {
        let cache = DNSCache(configuration: .init(resolver: StaticResolver([:])))
        let (first, second) = try await withInstalledCache(cache) {
            (
                try await TracedOpen.run("http://nowhere.test:9/live/stream.flv"),
                try await TracedOpen.run("http://nowhere.test:9/live/stream.flv")
            )
        }
        #expect(first.error != nil && second.error != nil)
        let firstLookup = try #require(first.trace.hops.first?.lookup)
        let secondLookup = try #require(second.trace.hops.first?.lookup)
        #expect(firstLookup.source == .resolver)
        #expect(secondLookup.source == .negative)
        #expect(firstLookup.errorCode == EAI_NONAME && secondLookup.errorCode == EAI_NONAME)
        #expect(first.trace.hops.first?.connects.isEmpty == true)
        #expect(cache.stats.negativeHits == 1)
    }
}

extension OriginTests.NetworkTraceAccuracy {
    /// Dual-stack policy: the cache hands FFmpeg IPv6 first (RFC 8305), FFmpeg tries it, and the trace keeps
    /// each attempt's family; the origin listens on IPv4 only, so the IPv6 attempt is refused.
    @Test func bothFamiliesAreTriedInTheCachesOrder() async throws {
        try await withOrigin { origin in
            let cache = DNSCache(
                configuration: .init(
                    families: .both,
                    resolver: StaticResolver([
                        "dual.test": [IPAddress("127.0.0.1")!, IPAddress("::1")!]
                    ])
                )
            )
            let open = try await withInstalledCache(cache) { try await TracedOpen.run(origin.url(host: "dual.test")) }
            #expect(open.error == nil)
            let hop = try #require(open.trace.hops.first)
            #expect(hop.lookup?.answers.map(\.address.family) == [.ipv6, .ipv4])
            #expect(hop.connects.map(\.family) == [.ipv6, .ipv4])
            #expect(hop.connects.map(\.outcome) == [.failed, .connected])
            #expect(hop.connects.first?.address.description == "[::1]:\(origin.port)")
        }
    }
}
