import FirstFrameCore
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import OriginTestSupport
import Testing

extension OriginTests {
    /// Channels by name: each one its own live channel (clock, GOP cache, viewers), on a bounded number of
    /// synthesised programs.
    @Suite struct Channels {
        init() { FFmpegLog.level = .error }

        /// The first two names `room0`, `room1`, … that play different programs.
        static func namesWithDifferentPrograms(_ distinctPrograms: Int) -> (String, String) {
            let names = (0..<100).map { "room\($0)" }
            let first = names[0]
            let look = ChannelName(first)!.look(distinctPrograms: distinctPrograms)
            let second = names.first { ChannelName($0)!.look(distinctPrograms: distinctPrograms) != look }!
            return (first, second)
        }

        @Test func twoNamesPlayDifferentPicturesAndTonesAndBothDecode() async throws {
            try await withOrigin { origin in
                let (first, second) = Self.namesWithDifferentPrograms(origin.configuration.distinctPrograms)
                let urls = [origin.url(.gop, channel: first), origin.url(.gop, channel: second)]
                #expect(urls[0].hasSuffix("/gop/\(first).flv"))
                let streams = try await blocking {
                    try urls.map { url in
                        try ReceivedStream.receive(url, timeout: 15) {
                            $0.media.filter { $0.tag.kind == .video }.count >= 10
                        }
                    }
                }
                for stream in streams {
                    #expect(stream.head.status == 200)
                    #expect(stream.firstMedia?.tag.isKeyframe == true)
                }
                // Not only other timestamps: no video frame of one channel is a frame of the other, and their
                // audio differs too (another tone).
                let video = streams.map { Set($0.media.filter { $0.tag.kind == .video }.map(\.tag.payload)) }
                #expect(video[0].count >= 10 && video[1].count >= 10)
                #expect(video[0].isDisjoint(with: video[1]))
                let audio = streams.map { Set($0.media.filter { $0.tag.kind == .audio }.map(\.tag.payload)) }
                #expect(!audio[0].isEmpty && audio[0] != audio[1])
                // Neither is the original picture that `stream` plays.
                let original = Set(origin.program.media.map(\.payload))
                #expect(video.allSatisfy { $0.isDisjoint(with: original) })

                for url in urls {
                    let result = try await blocking { PlainOpen.run(url: url, timeout: 10) }
                    #expect(result.succeeded, "\(url): \(String(describing: result.error))")
                    #expect(result.streams.first { $0.kind == .video }?.codec == "h264")
                    #expect(result.pictureWidth == 640 && result.pictureHeight == 360)
                }
                let channels = Dictionary(uniqueKeysWithValues: origin.stats().channels.map { ($0.name, $0) })
                #expect(channels["stream"]?.program == 0)
                let programs = [first, second].compactMap { channels[$0]?.program }
                #expect(programs.count == 2 && programs[0] != programs[1] && !programs.contains(0))
            }
        }

        @Test func aNamedChannelKeepsItsOwnGOPAndClock() async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop, channel: "gop-owner")
                let (early, late) = try await blocking {
                    let early = try StreamReader(url, timeout: 15)
                    // Two keyframes: the channel's cached GOP is no longer the one it started with.
                    try early.read(timeout: 10) { $0.media.filter(\.tag.isKeyframe).count >= 2 }
                    let late = try StreamReader(url, timeout: 5)
                    let joined = try late.read(timeout: 5) { $0.firstMedia != nil }.firstMedia?.tag
                    // The early viewer has been sent that keyframe too, if it is the channel's: read until it is there.
                    try early.read(timeout: 5) { stream in stream.media.contains { $0.tag == joined } }
                    return (early.stream, late.stream)
                }
                let joined = try #require(late.firstMedia?.tag)
                let keyframes = early.media.map(\.tag).filter(\.isKeyframe)
                #expect(keyframes.count >= 2)
                #expect(joined.isKeyframe)
                // The late viewer starts at this channel's latest keyframe: same time, same picture.
                #expect(
                    keyframes.dropFirst().contains(joined),
                    "late join at \(joined.timestamp); keyframes seen \(keyframes.map(\.timestamp))"
                )
                // Not at a keyframe of the `stream` channel, which has another picture and has run longer.
                #expect(!origin.program.media.filter(\.isKeyframe).map(\.payload).contains(joined.payload))
                let stats = origin.stats()
                let owner = try #require(stats.channels.first { $0.name == "gop-owner" })
                #expect(owner.channelTimeMilliseconds < stats.channelTimeMilliseconds)
                #expect(owner.tagsEmitted > 0 && owner.program != 0)
            }
        }

        @Test func concurrentFirstRequestsSynthesiseOnce() async throws {
            // A media configuration no other test (and no earlier run in this process) has synthesised.
            let media = MediaConfiguration(
                width: 160,
                height: 96,
                framesPerSecond: 10,
                gopSeconds: 1,
                loopSeconds: 2,
                audio: false,
                videoBitrate: 60_000 + Int.random(in: 0..<1_000_000)
            )
            try await withOrigin(OriginConfiguration(media: media)) { origin in
                let before = ChannelProgram.synthesisCount(for: media)
                #expect(before == 1, "the origin synthesised `stream`'s program at start")
                // Two names on one program: sixteen first requests at once, twelve for one name, four for the other.
                let names = (0..<100).map { "twin\($0)" }
                let look = ChannelName(names[0])!.look(distinctPrograms: origin.configuration.distinctPrograms)
                let twin = names.dropFirst().first {
                    ChannelName($0)!.look(distinctPrograms: origin.configuration.distinctPrograms) == look
                }!
                let urls =
                    Array(repeating: origin.url(.gop, channel: names[0]), count: 12)
                    + Array(repeating: origin.url(.gop, channel: twin), count: 4)
                let streams = try await withThrowingTaskGroup(of: ReceivedStream.self) { group in
                    for url in urls {
                        group.addTask {
                            try await blocking { try ReceivedStream.receive(url, timeout: 15) { $0.firstMedia != nil } }
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(streams.count == urls.count)
                #expect(streams.allSatisfy { $0.head.status == 200 && $0.firstMedia?.tag.isKeyframe == true })
                #expect(
                    ChannelProgram.synthesisCount(for: media) == before + 1,
                    "one encode for both names and all sixteen requests"
                )
                let channels = origin.stats().channels
                #expect(channels.map(\.name).sorted() == [names[0], "stream", twin].sorted())
                #expect(channels.filter { $0.name != "stream" }.allSatisfy { $0.program == look.index })
            }
        }

        @Test func streamIsTheOriginalChannelUnderEveryPathForm() async throws {
            #expect(ChannelName("stream")?.look(distinctPrograms: 4) == .original)
            #expect(ChannelName("stream")?.firstGOP(gopsPerLoop: 5) == 0)
            // Names map the same way in every process (a stable hash, not Swift's seeded one).
            #expect(ChannelName("a")?.stableHash == 0xAF63_DC4C_8601_EC8C, "FNV-1a 64 of \"a\"")
            try await withOrigin { origin in
                #expect(origin.url(.gop, channel: "stream") == origin.url(.gop))
                let keyframes = Set(origin.program.media.filter(\.isKeyframe).map(\.payload))
                for path in ["/gop/stream.flv", "/stream.flv?mode=gop", "/app/stream.flv?mode=gop"] {
                    let url = origin.baseURL + path
                    let stream = try await blocking {
                        try ReceivedStream.receive(url, timeout: 5) { $0.firstMedia != nil }
                    }
                    #expect(stream.head.status == 200)
                    #expect(
                        keyframes.contains(try #require(stream.firstKeyframe?.tag.payload)),
                        "\(path) plays the original program"
                    )
                }
                #expect(origin.stats().channels.map(\.name) == ["stream"])
            }
        }

        @Test func aHundredNamesAreAffordable() async throws {
            // A fresh media configuration, so that the encodes this costs happen here and are measured.
            let media = MediaConfiguration(videoBitrate: 700_000 + Int.random(in: 0..<100_000))
            try await withOrigin(OriginConfiguration(media: media)) { origin in
                let names = (0..<100).map { "recorder-room-\($0)" }
                let looks = Set(
                    names.map { ChannelName($0)!.look(distinctPrograms: origin.configuration.distinctPrograms) }
                )
                let cpuBefore = FanOut.processCPUSeconds()
                let started = MonotonicClock.nanoseconds()
                try await origin.prepareChannels(names)
                let wall = MonotonicClock.milliseconds(since: started)
                let cpu = FanOut.processCPUSeconds() - cpuBefore
                report(
                    "100 channel names on \(origin.configuration.distinctPrograms) programs: \(looks.count) encodes, "
                        + "\(Int(wall)) ms wall, \(String(format: "%.2f", cpu)) s CPU (≈ \(String(format: "%.2f", cpu / Double(max(1, looks.count)))) s each)"
                )
                #expect(looks.count <= origin.configuration.distinctPrograms - 1)
                #expect(ChannelProgram.synthesisCount(for: media) == 1 + looks.count)
                let stats = origin.stats()
                #expect(stats.channels.count == 101)
                #expect(Set(stats.channels.map(\.program)).count == looks.count + 1)

                // A recorder's first round: one client per name, all at once, each gets its channel's keyframe.
                let urls = names.map { origin.url(.gop, channel: $0) }
                let streams = try await withThrowingTaskGroup(of: ReceivedStream.self) { group in
                    for url in urls {
                        group.addTask {
                            try await blocking { try ReceivedStream.receive(url, timeout: 20) { $0.firstMedia != nil } }
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let firstKeyframes = streams.compactMap { $0.firstKeyframe?.arrivedAfter }.sorted()
                report(
                    "100 names, one gop client each at once: first keyframe p50 \(firstKeyframes[firstKeyframes.count / 2]) ms, "
                        + "max \(firstKeyframes.last ?? .nan) ms"
                )
                #expect(firstKeyframes.count == 100)
                #expect(streams.allSatisfy { $0.head.status == 200 })
            }
        }

        @Test func namesOutsideTheAlphabetAndChannelsPastTheLimitAreRefused() async throws {
            try await withOrigin(OriginConfiguration(maximumChannels: 2)) { origin in
                let tooLong = String(repeating: "a", count: ChannelName.maximumLength + 1)
                let refused = ["/live/a%20b.flv", "/.flv", "/gop/\(tooLong).flv", "/live/caf%C3%A9.flv"].map {
                    origin.baseURL + $0
                }
                let answers = try await blocking { try refused.map { try ReceivedStream.receive($0, timeout: 5) } }
                #expect(answers.map(\.head.status) == [404, 404, 404, 404])
                await #expect(throws: OriginError.self) { try await origin.prepareChannels(["no spaces"]) }

                // `stream` and one more name fill a two-channel origin; a third name is refused, known ones are not.
                let first = origin.url(.gop, channel: "first")
                let third = origin.url(.gop, channel: "third")
                let (accepted, full, again) = try await blocking {
                    (
                        try ReceivedStream.receive(first, timeout: 15) { $0.firstMedia != nil },
                        try ReceivedStream.receive(third, timeout: 5),
                        try ReceivedStream.receive(first, timeout: 5) { $0.firstMedia != nil }
                    )
                }
                #expect(accepted.head.status == 200)
                #expect(full.head.status == 503)
                #expect(again.head.status == 200)
            }
        }
    }
}
