import FirstFrameOrigin
import Testing

extension OriginTests {
    @Suite struct Program {
        @Test func defaultChannelIsH264AndAACWithRegularKeyframes() throws {
            let program = try ChannelProgram.synthesized(MediaConfiguration())
            #expect(program.videoCodec == "h264")
            #expect(program.header == FLVHeader(hasAudio: true, hasVideo: true))
            #expect(program.metadata != nil)
            #expect(program.sequenceHeaders.map(\.kind) == [.video, .audio])
            #expect(program.loopMilliseconds == 10_000)
            let keyframes = program.media.filter(\.isKeyframe).map(\.timestamp)
            #expect(keyframes.count == 5)
            // One every GOP (2 s), all shifted alike by the AAC encoder's priming delay.
            let gaps = zip(keyframes.dropFirst(), keyframes).map { $0 - $1 }
            #expect(gaps == [2000, 2000, 2000, 2000])
            let videoFrames = program.media.filter { $0.kind == .video }.count
            #expect(videoFrames == 250)
            #expect(program.media.allSatisfy { $0.timestamp < program.loopMilliseconds })
            // Timestamps never run backwards within a pass.
            #expect(zip(program.media.dropFirst(), program.media).allSatisfy { $0.timestamp >= $1.timestamp })
            // Constant bitrate (x264 nal-hrd=cbr): 800 + 64 kbit/s plus FLV framing.
            #expect(
                program.bitsPerSecond > 864_000 * 0.97 && program.bitsPerSecond < 864_000 * 1.08,
                "\(program.bitsPerSecond)"
            )
        }

        @Test func videoOnlyChannelHasNoAudio() throws {
            let program = try ChannelProgram.synthesized(MediaConfiguration(width: 320, height: 180, audio: false))
            #expect(program.header == FLVHeader(hasAudio: false, hasVideo: true))
            #expect(program.media.allSatisfy { $0.kind == .video })
            #expect(program.sequenceHeaders.map(\.kind) == [.video])
        }

        @Test func loopIsRoundedUpToWholeGOPs() throws {
            let configuration = MediaConfiguration(
                width: 160,
                height: 96,
                framesPerSecond: 10,
                gopSeconds: 1.5,
                loopSeconds: 2,
                audio: false
            )
            #expect(configuration.gopFrames == 15)
            #expect(configuration.loopFrames == 30)
            let program = try ChannelProgram.synthesized(configuration)
            #expect(program.loopMilliseconds == 3000)
            #expect(program.media.filter(\.isKeyframe).count == 2)
        }

        @Test(arguments: [
            MediaConfiguration(width: 641, height: 360),
            MediaConfiguration(framesPerSecond: 0),
            MediaConfiguration(gopSeconds: 0),
            MediaConfiguration(videoBitrate: 10),
            MediaConfiguration(audioSampleRate: 12_345),
        ])
        func invalidConfigurationIsRejectedWithItsField(_ configuration: MediaConfiguration) {
            #expect(throws: OriginError.self) { try ChannelProgram.synthesized(configuration) }
        }

        @Test func tinyPicturesSynthesise() throws {
            let program = try ChannelProgram.synthesized(MediaConfiguration(width: 32, height: 16, audio: false))
            #expect(program.media.filter(\.isKeyframe).count == 5)
        }

        @Test func originConfigurationIsValidatedBeforeStarting() async {
            await #expect(throws: OriginError.self) { try await LiveOrigin.start(OriginConfiguration(burstSpeed: 1)) }
            await #expect(throws: OriginError.self) {
                try await LiveOrigin.start(OriginConfiguration(clientBacklogBytes: 0))
            }
        }

        @Test func mediaBytesCountsAcrossLoopPasses() throws {
            let program = try ChannelProgram.synthesized(MediaConfiguration())
            let loop = UInt64(program.loopMilliseconds)
            #expect(program.mediaBytes(from: 0, to: loop) == program.mediaBytesPerLoop)
            #expect(program.mediaBytes(from: loop * 3, to: loop * 5) == 2 * program.mediaBytesPerLoop)
            #expect(program.mediaBytes(from: 500, to: 500) == 0)
        }
    }

    @Suite struct FLVFormat {
        @Test func tagsRoundTripThroughTheParserInPieces() throws {
            let tags = [
                FLVTag(kind: .script, timestamp: 0, payload: [2, 0, 10] + Array("onMetaData".utf8)),
                FLVTag(kind: .video, timestamp: 0x01_23_45_67, payload: [0x17, 1, 0, 0, 0, 9, 9]),
                FLVTag(kind: .audio, timestamp: 40, payload: [0xAF, 1, 33]),
            ]
            let bytes = FLVHeader(hasAudio: true, hasVideo: true).encoded() + tags.flatMap { $0.encoded() }
            var parser = FLVStreamParser()
            var parsed: [FLVTag] = []
            // Byte by byte: a tag split anywhere must come out whole, once.
            for byte in bytes { parsed += try parser.append([byte]) }
            #expect(parsed == tags)
            #expect(parser.header == FLVHeader(hasAudio: true, hasVideo: true))
            #expect(parser.totalBytes == bytes.count)
            #expect(parsed[1].isKeyframe)
            #expect(!parsed[2].isSequenceHeader)
        }

        @Test func rejectsWhatIsNotFLV() {
            var parser = FLVStreamParser()
            #expect(throws: FLVParseError.notFLV) { try parser.append(Array("HTTP/1.1 200 OK\r\n".utf8)) }
        }

        @Test func detectsABrokenPreviousTagSize() throws {
            var bytes =
                FLVHeader(hasAudio: false, hasVideo: true).encoded()
                + FLVTag(kind: .video, timestamp: 0, payload: [0x27, 1]).encoded()
            bytes[bytes.count - 1] ^= 0xFF
            var parser = FLVStreamParser()
            #expect(throws: FLVParseError.self) { try parser.append(bytes) }
        }

        @Test func sequenceHeadersAndEndOfSequenceAreNotMedia() {
            #expect(FLVTag(kind: .video, timestamp: 0, payload: [0x17, 0, 0, 0, 0]).isSequenceHeader)
            #expect(!FLVTag(kind: .video, timestamp: 0, payload: [0x17, 0, 0, 0, 0]).isKeyframe)
            #expect(FLVTag(kind: .audio, timestamp: 0, payload: [0xAF, 0, 0x12, 0x10]).isSequenceHeader)
            #expect(FLVTag(kind: .video, timestamp: 0, payload: [0x17, 2, 0, 0, 0]).isEndOfSequence)
            #expect(!FLVTag(kind: .video, timestamp: 0, payload: [0x17, 2, 0, 0, 0]).isMedia)
        }
    }

    @Suite struct Requests {
        @Test func modeComesFromThePathOrTheQuery() throws {
            #expect(try OriginRequest(uri: "/gop/stream.flv").mode == .gop)
            #expect(try OriginRequest(uri: "/live/x.flv?mode=burst").mode == .burst)
            #expect(try OriginRequest(uri: "/app/stream.flv").mode == nil)
            #expect(try OriginRequest(uri: "/app/stream.flv").route == .stream)
            #expect(try OriginRequest(uri: "/").route == .index)
            #expect(try OriginRequest(uri: "/stats").route == .stats)
            #expect(try OriginRequest(uri: "/favicon.ico").route == .notFound)
        }

        @Test func theLastPathComponentNamesTheChannel() throws {
            #expect(try OriginRequest(uri: "/live/room7.flv").channel == ChannelName("room7"))
            #expect(try OriginRequest(uri: "/gop/room7.flv?delay=5").channel == ChannelName("room7"))
            let bare = try OriginRequest(uri: "/room7.flv")
            #expect(bare.channel == ChannelName("room7") && bare.mode == nil && bare.route == .stream)
            #expect(try OriginRequest(uri: "/app/x/stream.flv").channel == .standard)
            #expect(try OriginRequest(uri: "/stats").channel == nil)
            for path in [
                "/.flv", "/live/a%20b.flv", "/live/a+b.flv", "/" + String(repeating: "x", count: 101) + ".flv",
            ] {
                let request = try OriginRequest(uri: path)
                #expect(request.route == .notFound && request.channel == nil, "\(path)")
            }
        }

        @Test func behaviourRoundTripsThroughTheQueryString() throws {
            let behaviour = Behaviour(
                responseDelayMilliseconds: 250,
                status: nil,
                redirectTarget: "http://127.0.0.1:9/gop/stream.flv?a=1&b=2",
                redirectHops: 2,
                redirectStatus: 307,
                stallAfterBytes: 1000,
                closeAfterBytes: 5000,
                corruptAtByte: 13,
                corruptLength: 7,
                waitForKeyframe: false,
                burstSpeed: 2.5,
                chunked: true,
                closeAfterMilliseconds: 1200,
                endAfterMilliseconds: 3000,
                endsChannel: true,
                channelEnded: true
            )
            let query = OriginRequest.query(mode: .burst, behaviour: behaviour)
            let parsed = try OriginRequest(uri: "/s.flv?" + query)
            #expect(parsed.behaviour == behaviour)
            #expect(parsed.mode == .burst)
            // The one-line summary (index page, `firstframe serve`) names every parameter the query renders.
            for item in query.split(separator: "&") {
                let name = item.split(separator: "=")[0]
                #expect(
                    OriginRequest.parameterSummary.contains(" \(name)=")
                        || OriginRequest.parameterSummary.hasPrefix("\(name)="),
                    "\(name)"
                )
            }
        }

        @Test func endChannelNeedsAnEnd() throws {
            #expect(throws: OriginRequest.ParseError.requires(name: "end_channel", other: "end_after_ms")) {
                try OriginRequest(uri: "/live/x.flv?end_channel=1")
            }
            #expect(try OriginRequest(uri: "/live/x.flv?end_channel=1&end_after_ms=0").behaviour.endsChannel)
        }

        @Test func queryOverridesServerDefaults() throws {
            let defaults = Behaviour(responseDelayMilliseconds: 100)
            #expect(try OriginRequest(uri: "/s.flv", defaults: defaults).behaviour.responseDelayMilliseconds == 100)
            #expect(
                try OriginRequest(uri: "/s.flv?delay=0", defaults: defaults).behaviour.responseDelayMilliseconds == 0
            )
        }

        @Test func redirectHopsRepeatTheQueryAsSentWithOneHopLess() throws {
            // Overrides of server-wide defaults (delay=0 here) must survive every hop.
            let request = try OriginRequest(
                uri: "/live/s.flv?delay=0&mode=gop&redirects=2",
                defaults: Behaviour(responseDelayMilliseconds: 300)
            )
            #expect(request.behaviour.redirectHops == 2)
            let next = try OriginRequest(
                uri: request.redirectTargetForNextHop,
                defaults: Behaviour(responseDelayMilliseconds: 300)
            )
            #expect(next.behaviour.redirectHops == 1)
            #expect(next.behaviour.responseDelayMilliseconds == 0)
            #expect(next.mode == .gop)
            #expect(next.path == "/live/s.flv")
        }

        @Test func malformedEscapesAreKeptAsTheyAre() throws {
            #expect(try OriginRequest(uri: "/s.flv?redirect=/a%zzb%4").behaviour.redirectTarget == "/a%zzb%4")
            #expect(try OriginRequest(uri: "/s.flv?redirect=/a%20b").behaviour.redirectTarget == "/a b")
        }

        @Test(arguments: [
            "mode=fast", "delay=-1", "status=99", "redirect_status=305", "waitkey=yes", "speed=0.5", "speed=1",
            "bogus=1", "redirect=%0D%0ASet-Cookie:%20x", "close_after_ms=-5", "end_after_ms=soon", "ended=2",
            "end_channel=yes",
        ])
        func badParametersAreRejected(_ query: String) {
            #expect(throws: OriginRequest.ParseError.self) { try OriginRequest(uri: "/s.flv?" + query) }
        }
    }
}
