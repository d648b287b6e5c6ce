import FirstFrame
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Testing

#if canImport(Glibc)
import FirstFrameNetwork
#endif

extension OriginTests {
    /// ``StreamPreloader`` against the loopback origin: each state's hand-over, a room that dropped while
    /// preloaded, a room removed from the list, a room over its byte budget, and one left idle.
    @Suite(.serialized) struct Preloader {
        init() { FFmpegLog.level = .quiet }

        private func preloader(_ configuration: StreamPreloader.Configuration = .init()) throws -> StreamPreloader {
            try StreamPreloader(opener: StreamOpener(preset: .instant), configuration: configuration)
        }

        /// Closes the preloader and waits until everything it opened is closed, so that no test after this one
        /// sees its descriptors or threads go away.
        private func finish(_ preloader: StreamPreloader) async {
            preloader.close()
            await preloader.closing()
        }

        private static func preloadThreads() -> Int {
            ProcessCounters.threads().values.filter { $0 == ThreadName.fitted("FirstFrame.preload") }.count
        }

        /// A hot room hands over the newest keyframe (not the one it opened on), its picture at once, a decoder
        /// primed with it, and the packets after it in order.
        @Test func aPreloadedRoomHandsOverItsNewestKeyframe() async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop)
                let preloader = try preloader()
                defer { preloader.close() }
                preloader.setCandidates([url])
                #expect(await preloader.waitUntilPrepared(url) == .preloaded)
                let room = try #require(preloader.hotRoom(url))
                // The user watches another room; meanwhile the edge sends the next GOP (2 s).
                #expect(try await eventually(timeout: 5) { room.keyframeTimestamps.count >= 2 })
                let opened = room.keyframeTimestamps.first!
                let stream = try await preloader.open(url)
                defer { stream.close() }
                let preload = try #require(stream.report.preload)
                #expect(preload.state == .preloaded)
                #expect(preload.switchMs < 100, "a hand-over, not an open: \(preload.switchMs) ms")
                #expect((preload.heldBytes ?? 0) > 0)
                let decoder = try #require(stream.takeVideoDecoder())
                #expect(decoder.packetsAlreadyDecoded == 1)
                #expect(decoder.firstPicture.width == 640)
                let first = try #require(try stream.readPacket())
                #expect(first.streamIndex == stream.videoStreamIndex && first.isKeyframe)
                let newest = try #require(first.dts)
                #expect(newest >= opened + 2000, "the newest keyframe (\(newest)), not the open's (\(opened))")
                var previous = newest
                var videoPackets = 0
                while videoPackets < 60, let packet = try stream.readPacket() {
                    guard packet.streamIndex == stream.videoStreamIndex, let dts = packet.dts else { continue }
                    #expect(dts == previous + 40, "every frame after the keyframe, in order")
                    previous = dts
                    videoPackets += 1
                }
                #expect(preloader.stats.switches[.preloaded] == 1)
                await finish(preloader)
            }
        }

        /// A room removed from the candidates is closed at once: its thread ends and its stream is closed; its
        /// bytes count as the cost of preloading.
        @Test func aRoomRemovedFromTheListIsClosedAtOnce() async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop)
                let preloader = try preloader()
                defer { preloader.close() }
                preloader.setCandidates([url])
                #expect(await preloader.waitUntilPrepared(url) == .preloaded)
                let room = try #require(preloader.hotRoom(url))
                // The hot thread names itself as it starts.
                #expect(try await eventually(timeout: 2) { Self.preloadThreads() == 1 })
                preloader.setCandidates([])
                #expect(preloader.stats.unusedRooms == 1)
                await preloader.closing()
                #expect(room.stopped == .closed)
                #expect(room.stream.end?.reason == .closed)
                // Its thread, and the one that closed it, have left (the kernel reaps them just after).
                #expect(try await eventually(timeout: 2) { Self.preloadThreads() == 0 })
                #expect(preloader.stats.unusedBytes > 0)
                #expect(preloader.state(of: url) != .preloaded)
                await finish(preloader)
            }
        }

        /// A room whose stream drops while it is preloaded is opened again when the user gets to it.
        @Test func aRoomThatDroppedWhilePreloadedIsOpenedAgain() async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop, behaviour: Behaviour(closeAfterMilliseconds: 800))
                let preloader = try preloader()
                defer { preloader.close() }
                preloader.setCandidates([url])
                #expect(await preloader.waitUntilPrepared(url) == .preloaded)
                #expect(await preloader.waitUntilRoomStops(url) == .ended)
                #expect(preloader.state(of: url) != .preloaded)
                let stream = try await preloader.open(url)
                defer { stream.close() }
                #expect(stream.report.outcome == .ok)
                #expect(stream.report.preload?.state != .preloaded)
                let first = try #require(try stream.readPacket())
                #expect(first.isKeyframe || first.streamIndex != stream.videoStreamIndex)
                await finish(preloader)
            }
        }

        /// Past its byte budget a room holds nothing until its next keyframe, and is not handed over mid-GOP: the
        /// open is a fresh one, starting at a keyframe.
        @Test func aRoomOverItsByteBudgetIsOpenedAfresh() async throws {
            try await withOrigin { origin in
                // The edge stops after its cached GOP and a little more: the room, over its budget, meets no next
                // keyframe while the test looks (a fresh open still gets the cached GOP's keyframe).
                let url = origin.url(.gop, behaviour: Behaviour(stallAfterBytes: 150_000))
                let preloader = try preloader(.init(bytesPerStream: 64 << 10))
                defer { preloader.close() }
                preloader.setCandidates([url])
                #expect(await preloader.waitUntilPrepared(url) == .preloaded)
                let room = try #require(preloader.hotRoom(url))
                // 2 s GOPs at 800 kbit/s are ~200 kB: the cached GOP alone passes 64 KiB.
                #expect(try await eventually(timeout: 5) { !room.holdsKeyframe })
                let stream = try await preloader.open(url)
                defer { stream.close() }
                #expect(stream.report.preload?.state != .preloaded)
                var first = try #require(try stream.readPacket())
                while first.streamIndex != stream.videoStreamIndex { first = try #require(try stream.readPacket()) }
                #expect(first.isKeyframe)
                await finish(preloader)
            }
        }

        /// A room not opened within its idle budget closes itself.
        @Test func anIdleRoomClosesItself() async throws {
            try await withOrigin { origin in
                let url = origin.url(.gop)
                let preloader = try preloader(.init(idleTimeout: .seconds(1)))
                defer { preloader.close() }
                let started = MonotonicClock.nanoseconds()
                preloader.setCandidates([url])
                #expect(await preloader.waitUntilPrepared(url) == .preloaded)
                let room = try #require(preloader.hotRoom(url))
                #expect(await preloader.waitUntilRoomStops(url) == .idle)
                let seconds = Double(MonotonicClock.nanoseconds() - started) / 1e9
                #expect(seconds >= 1 && seconds < 3, "closed after its 1 s idle budget: \(seconds) s")
                #expect(room.stream.end?.reason == .closed)
                #expect(preloader.state(of: url) != .preloaded)
                await finish(preloader)
            }
        }

        /// A room in the `connected` state: its warm connection, raced between its two edges (the first one's SYN
        /// is dropped by a full accept queue), goes to the fast edge; the DNS cache then ranks that edge first, the
        /// open's connect is handed the connection (no handshake), and the report says `connected`. A room dropped
        /// from the list has its connection closed at once.
        @Test(.enabled(if: NetworkTrace.isAvailable))
        func aConnectedRoomIsHandedItsRacedEdgesConnection() async throws {
            try await withOrigin { origin in
                let slow = IPAddress("127.0.0.2")!
                let fast = IPAddress("127.0.0.1")!
                let blocked = try BlockedListener(address: "127.0.0.2", port: origin.port)
                defer { _ = blocked }
                let cache = DNSCache(
                    configuration: .init(resolver: StaticResolver(["edges.test": [slow, fast]]), demotionPeriod: 0)
                )
                defer { cache.shutdown() }
                var knobs = Preset.instant.knobs
                knobs.spareConnections = 0
                let preloader = try StreamPreloader(
                    opener: StreamOpener(knobs: knobs, dnsCache: cache),
                    configuration: .init(
                        preloadedStreams: 0,
                        warmConnections: 1,
                        raceEdges: true,
                        connectTimeout: .seconds(1)
                    )
                )
                defer { preloader.close() }
                let url = origin.url(host: "edges.test")
                let dropped = origin.url(host: "edges.test", query: "other")
                preloader.setCandidates([url, dropped])
                #expect(preloader.state(of: dropped) != .connected, "one warm connection in the budget")
                #expect(await preloader.waitUntilConnected(url))
                #expect(preloader.state(of: url) == .connected)
                let fastEdge = SocketAddress(address: fast, port: origin.port)
                #expect(WarmConnections.shared.count(to: fastEdge) == 1)
                let stream = try await preloader.open(url)
                defer { stream.close() }
                #expect(stream.report.preload?.state == .connected)
                let hop = try #require(stream.report.hops.first)
                #expect(hop.dns?.edge?.chosen == fast, "the race's winner ranked first")
                let connect = try #require(hop.connects.first { $0.outcome == .connected })
                #expect(connect.address == "127.0.0.1" && connect.warm == true)
                #expect(WarmConnections.shared.count(to: fastEdge) == 0, "handed over, not left in the pool")
                // Dropped from the list: a new warm connection for another room is closed at once.
                let other = origin.url(host: "edges.test", query: "third")
                preloader.setCandidates([other])
                #expect(await preloader.waitUntilConnected(other))
                #expect(WarmConnections.shared.count(to: fastEdge) == 1)
                preloader.setCandidates([])
                #expect(WarmConnections.shared.count(to: fastEdge) == 0)
                // The races' losers (their SYNs dropped) give up within the 1 s connect timeout: nothing is left.
                await preloader.closing()
                #expect(WarmConnections.shared.count == 0)
                await finish(preloader)
            }
        }

        /// Budgets out of range are refused with the budget named.
        @Test func budgetsAreValidated() {
            for bad in [
                StreamPreloader.Configuration(preloadedStreams: -1), .init(preloadedStreams: 9),
                .init(bytesPerStream: 1000), .init(idleTimeout: .zero), .init(idleTimeout: .seconds(7200)),
                .init(warmConnections: 9), .init(connectTimeout: .zero),
            ] {
                #expect(throws: StreamPreloaderError.self) { try StreamPreloader(configuration: bad) }
            }
        }
    }
}
