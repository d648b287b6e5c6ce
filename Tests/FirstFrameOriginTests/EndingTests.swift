import FirstFrameCore
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import OriginTestSupport
import Testing

extension OriginTests {
    /// How a stream stops: dropped (wherever it is), ended cleanly (on a tag boundary), or gone (404).
    @Suite struct Endings {
        init() { FFmpegLog.level = .error }

        @Test func closeAfterMillisecondsDropsTheConnectionAboutThen() async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop, behaviour: Behaviour(closeAfterMilliseconds: 800))
                let stream = try await blocking { try ReceivedStream.receive(url, timeout: 10) }
                #expect(stream.head.status == 200)
                #expect(stream.closedByOrigin)
                let closedAfter = try #require(stream.closedAfter)
                report(
                    "close_after_ms=800: closed \(closedAfter) ms after the request, \(stream.body.count) body bytes"
                )
                // Counted from the response head, which follows the request: never early; late only by as much as a
                // busy two-core machine delays a timer.
                #expect(closedAfter >= 800)
                #expect(closedAfter < 800 + 1000)
                #expect(stream.media.count > 10, "the stream flowed until the drop")
                // A drop is not an end: no end-of-sequence marker.
                #expect(!stream.tags.contains { $0.tag.isEndOfSequence })
            }
        }

        @Test func aDropFallsWhereverTheStreamIsEvenMidTag() async throws {
            try await withOrigin { origin in
                // Stalled after 5000 bytes, inside the first keyframe; the drop then closes the silent connection.
                let url = origin.url(.gop, behaviour: Behaviour(stallAfterBytes: 5000, closeAfterMilliseconds: 500))
                let stream = try await blocking { try ReceivedStream.receive(url, timeout: 10) }
                #expect(stream.closedByOrigin)
                #expect(stream.body.count == 5000)
                #expect(!stream.endsOnTagBoundary, "the keyframe tag is cut")
                #expect(try #require(stream.closedAfter) >= 500)
            }
        }

        @Test(arguments: [JoinMode.gop, .live])
        func endAfterMillisecondsEndsOnATagBoundary(_ mode: JoinMode) async throws {
            try await withOrigin { origin in
                let url = origin.url(mode, behaviour: Behaviour(endAfterMilliseconds: 1500))
                let stream = try await blocking { try ReceivedStream.receive(url, timeout: 10) }
                #expect(stream.head.status == 200)
                #expect(stream.closedByOrigin)
                #expect(stream.endsOnTagBoundary, "\(stream.body.count) body bytes, not all of them whole tags")
                let first = try #require(stream.firstMedia?.tag)
                let last = try #require(stream.media.last?.tag)
                #expect(first.isKeyframe)
                // 1500 ms of media by timestamp: every tag before the limit, none at or past it (audio comes every
                // 23 ms, video every 40 ms, so the last one is within 40 ms of the limit).
                let span = last.timestamp - first.timestamp
                #expect(span < 1500 && span >= 1500 - 40, "media spans \(span) ms")
                // Then the end-of-sequence marker FFmpeg's muxer writes when a publisher stops, and nothing else.
                let marker = try #require(stream.tags.last?.tag)
                #expect(marker.isEndOfSequence)
                #expect(marker.timestamp == last.timestamp)
            }
        }

        @Test func aChunkedEndSendsTheFinalChunk() async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop, behaviour: Behaviour(chunked: true, endAfterMilliseconds: 600))
                let raw = try await blocking { try ReceivedStream.receive(url, timeout: 10) }
                #expect(raw.closedByOrigin)
                #expect(raw.body.suffix(5) == Array("0\r\n\r\n".utf8))
                var parser = FLVStreamParser()
                let body = try Behaviours.dechunk(raw.body)
                let tags = try parser.append(body)
                #expect(FLVHeader.encodedSize + tags.reduce(0) { $0 + $1.encodedSize } == body.count)
                #expect(tags.last?.isEndOfSequence == true)
            }
        }

        @Test func endChannelEndsEveryViewerAndLaterRequestsGet404() async throws {
            try await withOrigin { origin in
                let watching = origin.url(.gop, channel: "finale")
                let ending = origin.url(
                    .gop,
                    channel: "finale",
                    behaviour: Behaviour(endAfterMilliseconds: 1000, endsChannel: true)
                )
                let elsewhere = origin.url(.gop, channel: "elsewhere")
                let (watcher, ender, reconnect, other) = try await blocking {
                    let watcher = try StreamReader(watching, timeout: 15)
                    try watcher.read(timeout: 10) { $0.firstMedia != nil }
                    let ender = try ReceivedStream.receive(ending, timeout: 10)
                    // The watcher's response ends too, at the same moment, on a tag boundary of its own.
                    try watcher.read(timeout: 5)
                    // A player or recorder reconnecting to the very same URL learns that the channel is gone.
                    let reconnect = try ReceivedStream.receive(ending, timeout: 5)
                    let other = try ReceivedStream.receive(elsewhere, timeout: 15) { $0.firstMedia != nil }
                    return (watcher.stream, ender, reconnect, other)
                }
                for stream in [ender, watcher] {
                    #expect(stream.closedByOrigin)
                    #expect(stream.endsOnTagBoundary)
                    #expect(stream.tags.last?.tag.isEndOfSequence == true)
                }
                #expect(reconnect.head.status == 404)
                #expect(String(decoding: reconnect.body, as: UTF8.self) == "channel ended: finale\n")
                #expect(other.head.status == 200, "other channels play on")
                #expect(origin.stats().channels.first { $0.name == "finale" }?.ended == true)
                // FFmpeg sees the 404 too.
                let result = try await blocking { PlainOpen.run(url: watching, timeout: 5) }
                #expect(result.failedStage == .formatProbed)
                #expect(result.error?.httpStatus == 404)
            }
        }

        @Test func endChannelFromCodeEndsItCleanlyEvenBeforeItExists() async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop, channel: "studio")
                let reader = try await blocking { () -> StreamReader in
                    let reader = try StreamReader(url, timeout: 15)
                    try reader.read(timeout: 10) { $0.firstMedia != nil }
                    return reader
                }
                try origin.endChannel("studio")
                let ended = try await blocking { try reader.read(timeout: 5) }
                #expect(ended.closedByOrigin)
                #expect(ended.endsOnTagBoundary)
                #expect(ended.tags.last?.tag.isEndOfSequence == true)

                try origin.endChannel("never-started")
                let urls = [url, origin.url(.live, channel: "never-started")]
                let answers = try await blocking { try urls.map { try ReceivedStream.receive($0, timeout: 5) } }
                #expect(answers.map(\.head.status) == [404, 404])
                #expect(throws: OriginError.self) { try origin.endChannel("not a name") }
            }
        }

        @Test func endedAnswers404WithoutEndingTheChannel() async throws {
            try await withOrigin { origin in
                let gone = origin.url(.gop, behaviour: Behaviour(channelEnded: true))
                let plain = origin.url(.gop)
                let (answer, stream) = try await blocking {
                    (
                        try ReceivedStream.receive(gone, timeout: 5),
                        try ReceivedStream.receive(plain, timeout: 5) { $0.firstMedia != nil }
                    )
                }
                #expect(answer.head.status == 404)
                #expect(String(decoding: answer.body, as: UTF8.self) == "channel ended: stream\n")
                #expect(stream.head.status == 200)
                #expect(origin.stats().channels.allSatisfy { !$0.ended })
            }
        }
    }
}
