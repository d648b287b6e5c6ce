import FirstFrameCore
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import OriginTestSupport
import Testing

extension OriginTests {
    /// Where a new client starts in the channel, and how fast it is fed from there.
    @Suite struct JoinModes {
        @Test func gopModeSendsTheCachedKeyframeFirstAndAtOnce() async throws {
            try await withOrigin { origin in
                // Let the channel reach a point where its cached GOP holds frames.
                #expect(try await eventually(timeout: 5) { origin.stats().channelTimeMilliseconds > 600 })
                let url = origin.url(.gop)
                let stream = try await blocking {
                    try ReceivedStream.receive(url, timeout: 5) {
                        $0.media.filter { $0.tag.kind == .video }.count >= 10
                    }
                }
                #expect(stream.head.status == 200)
                #expect(stream.head.headers["content-type"] == "video/x-flv")
                let first = try #require(stream.media.first { $0.tag.kind == .video })
                #expect(first.tag.isKeyframe, "the first frame of a gop join is the cached keyframe")
                // On loopback the cached keyframe is a few ms away; a generous bound keeps this honest on a
                // busy two-core machine (the figure itself is reported by the demo and the closing notes).
                #expect(first.arrivedAfter < 250, "first keyframe after \(first.arrivedAfter) ms")
                report("gop join: first keyframe \(first.arrivedAfter) ms after the request")
                // The ten frames of the cached GOP come in the same burst, not at 40 ms intervals.
                let tenth = stream.media.filter { $0.tag.kind == .video }[9]
                #expect(tenth.arrivedAfter - first.arrivedAfter < 200)
                // The preamble: FLV header, onMetaData, then both sequence headers, before any frame.
                let preamble = stream.tags.prefix { !$0.tag.isMedia }.map(\.tag)
                #expect(preamble.first?.kind == .script)
                #expect(preamble.filter(\.isSequenceHeader).count == 2)
            }
        }

        @Test func liveModeStartsAtTheNextKeyframe() async throws {
            try await withOrigin { origin in
                let gop = UInt64(origin.configuration.media.gopSeconds * 1000)
                let keyframeOffset = UInt64(try #require(origin.program.media.first { $0.isKeyframe }).timestamp)
                // Join mid-GOP, so that the wait for the next keyframe is long enough to tell right from wrong.
                #expect(
                    try await eventually(timeout: 5) {
                        (gop / 4...gop / 2).contains(
                            (origin.stats().channelTimeMilliseconds + gop - keyframeOffset) % gop
                        )
                    }
                )
                let joinedAt = origin.stats().channelTimeMilliseconds
                let nextKeyframe = (joinedAt + gop - keyframeOffset) / gop * gop + keyframeOffset
                let expectedWait = Double(nextKeyframe - joinedAt)
                let url = origin.url(.live)
                let stream = try await blocking {
                    try ReceivedStream.receive(url, timeout: Double(gop) / 1000 + 3) { $0.firstMedia != nil }
                }
                let first = try #require(stream.firstMedia)
                #expect(first.tag.isKeyframe, "waitkey holds everything back until a keyframe")
                #expect(UInt64(first.tag.timestamp) == nextKeyframe, "the next keyframe, not a later one")
                report(
                    "live join: first keyframe \(first.arrivedAfter) ms after the request; next keyframe was due in \(expectedWait) ms"
                )
                #expect(abs(first.arrivedAfter - expectedWait) < 150)
            }
        }

        @Test func liveModeWithoutWaitKeyForwardsFromNow() async throws {
            try await withOrigin { origin in
                let url = origin.url(.live, behaviour: Behaviour(waitForKeyframe: false))
                let stream = try await blocking {
                    try ReceivedStream.receive(url, timeout: 5) { $0.media.count >= 3 }
                }
                // Audio every 23 ms and video every 40 ms: the first frame comes right away, key or not.
                let first = try #require(stream.firstMedia)
                #expect(first.arrivedAfter < 250)
                #expect(stream.media.count >= 3)
            }
        }

        @Test func liveModeIsPacedInRealTime() async throws {
            try await withOrigin { origin in
                let window = 4000.0  // two GOPs
                let url = origin.url(.live)
                let stream = try await blocking {
                    try ReceivedStream.receive(url, timeout: 10) { received in
                        guard let key = received.firstKeyframe, let last = received.tags.last else { return false }
                        return last.arrivedAfter - key.arrivedAfter > window + 300
                    }
                }
                let key = try #require(stream.firstKeyframe)
                let media = stream.media.filter { $0.arrivedAfter >= key.arrivedAfter }
                // Each tag arrives when its timestamp says, relative to the first keyframe.
                let lateness = media.map {
                    ($0.arrivedAfter - key.arrivedAfter) - Double($0.tag.timestamp - key.tag.timestamp)
                }
                let worst = lateness.map(abs).max() ?? 0
                #expect(worst < 100, "tags arrive within 100 ms of their timestamps (worst \(worst) ms)")

                // Bytes over the window within 10% of the channel's bitrate.
                let received = media.filter { $0.arrivedAfter - key.arrivedAfter < window }.reduce(0) {
                    $0 + $1.tag.encodedSize
                }
                let expected = origin.program.bitsPerSecond / 8 * window / 1000
                let error = abs(Double(received) - expected) / expected
                report(
                    "live pacing: worst lateness \(worst) ms; \(received) bytes in \(window) ms vs \(Int(expected)) from the bitrate (\(error * 100)%)"
                )
                #expect(
                    error < 0.10,
                    "received \(received) bytes in \(window) ms, bitrate says \(Int(expected)) (\(error * 100)%)"
                )
            }
        }

        @Test func burstModeRunsAtItsSpeedUntilItReachesTheLiveEdge() async throws {
            let speed = 4.0
            let media = MediaConfiguration(width: 320, height: 180, gopSeconds: 4, loopSeconds: 8)
            try await withOrigin(OriginConfiguration(media: media, burstSpeed: speed)) { origin in
                // Join when the cached GOP holds 2–3.5 s, so there is something to catch up on.
                #expect(
                    try await eventually(timeout: 10) {
                        (2000...3500).contains(origin.stats().channelTimeMilliseconds % 4000)
                    }
                )
                let joinedAt = origin.stats().channelTimeMilliseconds
                let url = origin.url(.burst)
                let stream = try await blocking {
                    try ReceivedStream.receive(url, timeout: 6) { received in
                        (received.tags.last?.arrivedAfter ?? 0) > 2500
                    }
                }
                let key = try #require(stream.firstMedia)
                #expect(key.tag.isKeyframe)
                #expect(key.arrivedAfter < 250)
                let behind = Double(joinedAt) - Double(key.tag.timestamp)
                #expect(behind > 1500, "joined \(behind) ms behind the live edge")
                // Catch-up: position = speed × t, edge = behind + t, equal at t = behind / (speed − 1).
                let catchUp = behind / (speed - 1)
                let media = stream.media
                for arrival in media {
                    let wall = arrival.arrivedAfter - key.arrivedAfter
                    let position = Double(arrival.tag.timestamp - key.tag.timestamp)
                    #expect(
                        position <= speed * wall + 100,
                        "never faster than \(speed)×: \(position) ms of media after \(wall) ms"
                    )
                }
                let midBurst = media.filter { $0.arrivedAfter - key.arrivedAfter < catchUp * 0.8 }
                let lastOfBurst = try #require(midBurst.last)
                let burstPace =
                    Double(lastOfBurst.tag.timestamp - key.tag.timestamp)
                    / max(1, lastOfBurst.arrivedAfter - key.arrivedAfter)
                #expect(abs(burstPace - speed) < 0.15 * speed, "burst pace \(burstPace)× (want \(speed)×)")
                let afterCatchUp = media.filter { $0.arrivedAfter - key.arrivedAfter > catchUp + 300 }
                let first = try #require(afterCatchUp.first)
                let last = try #require(afterCatchUp.last)
                let livePace =
                    Double(last.tag.timestamp - first.tag.timestamp) / max(1, last.arrivedAfter - first.arrivedAfter)
                report("burst: \(behind) ms behind, pace \(burstPace)× until \(catchUp) ms, then \(livePace)×")
                #expect(abs(livePace - 1) < 0.15, "pace after catching up \(livePace)× (want 1×)")
            }
        }
    }
}
