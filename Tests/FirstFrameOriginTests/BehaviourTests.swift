import FirstFrameCore
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import OriginTestSupport
import Testing

extension OriginTests {
    /// Every injectable behaviour does what it says, seen both from a raw socket and from FFmpeg.
    @Suite struct Behaviours {
        init() { FFmpegLog.level = .quiet }

        @Test func responseDelayHoldsBackTheResponseHead() async throws {
            try await withOrigin { origin in
                let plainURL = origin.url(.gop)
                let delayedURL = origin.url(.gop, behaviour: Behaviour(responseDelayMilliseconds: 300))
                let (plain, delayed) = try await blocking {
                    let plain = try RawHTTPClient(url: plainURL)
                    try plain.sendRequest()
                    let plainHead = try plain.readHead()
                    let delayed = try RawHTTPClient(url: delayedURL)
                    try delayed.sendRequest()
                    return (plainHead, try delayed.readHead())
                }
                report(
                    "response delay 300 ms: head after \(delayed.receivedAfter) ms (no delay: \(plain.receivedAfter) ms)"
                )
                #expect(delayed.status == 200)
                #expect(delayed.receivedAfter >= 300)
                #expect(delayed.receivedAfter - plain.receivedAfter < 300 + 250)
            }
        }

        @Test func serverWideDelayAppliesUnlessTheRequestOverridesIt() async throws {
            let configuration = OriginConfiguration(defaultBehaviour: Behaviour(responseDelayMilliseconds: 200))
            try await withOrigin(configuration) { origin in
                let defaultURL = origin.url(.gop)
                let overriddenURL = origin.url(.gop) + "?delay=0"
                let (delayed, immediate) = try await blocking {
                    let delayed = try RawHTTPClient(url: defaultURL)
                    try delayed.sendRequest()
                    let immediate = try RawHTTPClient(url: overriddenURL)
                    try immediate.sendRequest()
                    // Read the one expected first first: a head is timed when it is read.
                    let immediateHead = try immediate.readHead()
                    return (try delayed.readHead(), immediateHead)
                }
                #expect(delayed.receivedAfter >= 200)
                #expect(immediate.receivedAfter < delayed.receivedAfter)
            }
        }

        @Test(arguments: [404, 500, 503])
        func injectedStatusIsReturnedAndFFmpegFailsOnIt(_ status: Int) async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop, behaviour: Behaviour(status: status))
                let stream = try await blocking { try ReceivedStream.receive(url, timeout: 5) }
                #expect(stream.head.status == status)
                #expect(stream.closedByOrigin)
                #expect(String(decoding: stream.body, as: UTF8.self) == "injected status \(status)\n")
                let result = try await blocking { PlainOpen.run(url: url, timeout: 5) }
                #expect(result.failedStage == .formatProbed)
                let error = try #require(result.error)
                #expect(error.operation == "avformat_open_input")
                if status == 404 { #expect(error.httpStatus == 404) } else { #expect(error.httpStatus == 500) }
            }
        }

        @Test func redirectToAPathIsFollowedByFFmpeg() async throws {
            try await withOrigin { origin in
                let url = origin.url(
                    .live,
                    behaviour: Behaviour(redirectTarget: "/gop/stream.flv", redirectStatus: 307)
                )
                let raw = try await blocking { try ReceivedStream.receive(url, timeout: 5) }
                #expect(raw.head.status == 307)
                #expect(raw.head.headers["location"] == "/gop/stream.flv")
                let result = try await blocking { PlainOpen.run(url: url, timeout: 10) }
                #expect(result.succeeded, "\(String(describing: result.error))")
                // Served by the redirect target in gop mode: the one stream viewer is a gop viewer.
                #expect(origin.stats().totalViewers == 1)
            }
        }

        @Test func redirectToAnotherPortReachesTheOtherOrigin() async throws {
            try await withOrigin { target in
                try await withOrigin { origin in
                    let url = origin.url(.gop, behaviour: Behaviour(redirectTarget: target.url(.gop)))
                    let result = try await blocking { PlainOpen.run(url: url, timeout: 10) }
                    #expect(result.succeeded, "\(String(describing: result.error))")
                    #expect(origin.stats().totalViewers == 0)
                    #expect(target.stats().totalViewers == 1)
                }
            }
        }

        @Test func redirectChainsCountDownToTheStream() async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop, behaviour: Behaviour(redirectHops: 3))
                let first = try await blocking { try ReceivedStream.receive(url, timeout: 5) }
                #expect(first.head.status == 302)
                #expect(first.head.headers["location"] == "/gop/stream.flv?redirects=2")
                let result = try await blocking { PlainOpen.run(url: url, timeout: 10) }
                #expect(result.succeeded, "\(String(describing: result.error))")
            }
        }

        @Test func stallAfterSendsExactlyThatManyBytesThenNothing() async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop, behaviour: Behaviour(stallAfterBytes: 5000))
                let (received, next) = try await blocking {
                    let client = try RawHTTPClient(url: url)
                    try client.sendRequest()
                    _ = try client.readHead()
                    var body: [UInt8] = []
                    while body.count < 5000, case .bytes(let bytes) = client.read(timeout: 5) { body += bytes }
                    // The origin goes silent with the connection open: no byte and no close for a while.
                    return (body, client.read(timeout: 0.7))
                }
                #expect(received.count == 5000)
                #expect(next == .timedOut)
                // FFmpeg, told to give up after 1.5 s, does so instead of hanging.
                let started = MonotonicClock.nanoseconds()
                let result = try await blocking { PlainOpen.run(url: url, timeout: 1.5) }
                let elapsed = MonotonicClock.milliseconds(since: started)
                #expect(result.error?.code == .interrupted, "\(String(describing: result.error))")
                #expect(elapsed < 1500 + 1000)
            }
        }

        @Test(arguments: [JoinMode.live, .gop, .burst])
        func aStallInsideThePreambleEndsTheStreamThere(_ mode: JoinMode) async throws {
            try await withOrigin { origin in
                #expect(try await eventually(timeout: 5) { origin.stats().channelTimeMilliseconds > 500 })
                let url = origin.url(mode, behaviour: Behaviour(closeAfterBytes: 5))
                let stream = try await blocking { try ReceivedStream.receive(url, timeout: 5) }
                #expect(stream.closedByOrigin)
                #expect(stream.body == Array(origin.program.header.encoded().prefix(5)))
            }
        }

        @Test func closeAfterSendsExactlyThatManyBytesThenCloses() async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop, behaviour: Behaviour(closeAfterBytes: 3000))
                let stream = try await blocking { try ReceivedStream.receive(url, timeout: 5) }
                #expect(stream.closedByOrigin)
                #expect(stream.body.count == 3000)
                let result = try await blocking { PlainOpen.run(url: url, timeout: 5) }
                #expect(!result.succeeded)
                #expect(result.error != nil)
            }
        }

        @Test func corruptionInvertsExactlyTheRequestedBytes() async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop, behaviour: Behaviour(corruptAtByte: 1, corruptLength: 2))
                let client = try await blocking { () -> [UInt8] in
                    let client = try RawHTTPClient(url: url)
                    try client.sendRequest()
                    _ = try client.readHead()
                    var body: [UInt8] = []
                    while body.count < 13, case .bytes(let bytes) = client.read(timeout: 5) { body += bytes }
                    return body
                }
                let header = origin.program.header.encoded()
                #expect(client[0] == header[0])
                #expect(client[1] == ~header[1])
                #expect(client[2] == ~header[2])
                #expect(Array(client[3..<13]) == Array(header[3..<13]))
                // With its signature broken the stream is not FLV any more: FFmpeg reads on, looking for a
                // format, until the (here: closed) stream ends, and fails the open (FFmpeg 5.1 says EIO) well
                // before the deadline.
                let closing = origin.url(
                    .gop,
                    behaviour: Behaviour(closeAfterBytes: 60_000, corruptAtByte: 1, corruptLength: 2)
                )
                let result = try await blocking { PlainOpen.run(url: closing, timeout: 10) }
                #expect(result.failedStage == .formatProbed)
                #expect(result.formatName == nil)
                #expect(
                    result.error != nil && result.error?.code != .interrupted,
                    "\(String(describing: result.error))"
                )
            }
        }

        @Test func corruptionInsideAFrameStillLetsTheStreamFlow() async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop, behaviour: Behaviour(corruptAtByte: 2000, corruptLength: 16))
                let stream = try await blocking {
                    try ReceivedStream.receive(url, timeout: 5) { $0.media.count >= 20 }
                }
                // The bytes are inverted inside the first keyframe's payload: framing survives, content does not.
                #expect(stream.media.count >= 20)
                let plain = try await blocking {
                    try ReceivedStream.receive(origin.url(.gop), timeout: 5) { $0.media.count >= 1 }
                }
                let corruptKey = try #require(stream.firstKeyframe?.tag)
                let plainKey = try #require(plain.firstKeyframe?.tag)
                if corruptKey.timestamp == plainKey.timestamp {
                    #expect(corruptKey.payload != plainKey.payload)
                }
            }
        }

        @Test func chunkedTransferCarriesTheSameFLVAndFFmpegReadsIt() async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop, behaviour: Behaviour(closeAfterBytes: 40_000, chunked: true))
                let raw = try await blocking { try ReceivedStream.receive(url, timeout: 5) }
                #expect(raw.head.headers["transfer-encoding"] == "chunked")
                #expect(raw.closedByOrigin)
                // De-chunked, the body is exactly the 40 000 FLV bytes asked for, and they parse.
                let body = try Self.dechunk(raw.body)
                #expect(body.count == 40_000)
                var parser = FLVStreamParser()
                let tags = try parser.append(body)
                #expect(tags.first { $0.isMedia }?.isKeyframe == true)

                let streaming = origin.url(.gop, behaviour: Behaviour(chunked: true))
                let result = try await blocking { PlainOpen.run(url: streaming, timeout: 10) }
                #expect(result.succeeded, "\(String(describing: result.error))")
            }
        }

        /// Undoes HTTP/1.1 chunked framing; a stream cut after a whole chunk (no final chunk) is accepted.
        static func dechunk(_ bytes: [UInt8]) throws -> [UInt8] {
            struct Malformed: Error {}
            var output: [UInt8] = []
            var index = 0
            while index < bytes.count {
                guard let lineEnd = bytes[index...].firstRange(of: [13, 10]),
                    let size = Int(String(decoding: bytes[index..<lineEnd.lowerBound], as: UTF8.self), radix: 16)
                else { throw Malformed() }
                let start = lineEnd.upperBound
                guard size > 0 else { break }
                guard start + size + 2 <= bytes.count, bytes[start + size] == 13, bytes[start + size + 1] == 10 else {
                    throw Malformed()
                }
                output += bytes[start..<(start + size)]
                index = start + size + 2
            }
            return output
        }

        @Test func unknownPathsAndBadParametersAreRejected() async throws {
            try await withOrigin { origin in
                let missingURL = origin.baseURL + "/nothing"
                let badURL = origin.url(.gop) + "?delay=soon"
                let (missing, bad) = try await blocking {
                    let missing = try ReceivedStream.receive(missingURL, timeout: 5)
                    let bad = try ReceivedStream.receive(badURL, timeout: 5)
                    return (missing, bad)
                }
                #expect(missing.head.status == 404)
                #expect(bad.head.status == 400)
                #expect(String(decoding: bad.body, as: UTF8.self).contains("delay"))
            }
        }
    }
}
