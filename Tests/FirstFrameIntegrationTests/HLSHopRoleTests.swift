import FirstFrame
import FirstFrameFFmpeg
import FirstFrameNetwork
import FirstFrameTestSupport
import Foundation
import Testing

/// A live-style HLS (two variants of 1 s segments, five per playlist, no `#EXT-X-ENDLIST`) opened by stock FFmpeg
/// through the hooks: every hop's role, warm or cold (lookup source, kept-alive connection, TLS resumption), the
/// variants FFmpeg fetched and how far from the live edge it started.
extension OriginTests {
    @Suite(
        .enabled(
            if: NetworkTrace.isAvailable && FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg"),
            "needs the hooks (Linux, no sanitizer) and the ffmpeg CLI"
        )
    )
    struct HLSHopRoles {
        init() { FFmpegLog.level = .quiet }

        /// The master playlist, `hi.m3u8` (320x240) and `lo.m3u8` (160x120), and their segments, made once.
        private static let liveHLS: Result<[String: [UInt8]], any Error> = Result {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "firstframe-hls-roles-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            for (name, size) in [("hi", "320x240"), ("lo", "160x120")] {
                let encoder = Process()
                encoder.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
                // 7 s of 1 s segments (a keyframe every 25 frames at 25 fps), the playlist keeping the last five and
                // no ENDLIST: what a live origin serves at that moment.
                encoder.arguments = [
                    "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=\(size):rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "7",
                    "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-c:a", "aac",
                    "-f", "hls", "-hls_time", "1", "-hls_list_size", "5", "-hls_flags", "omit_endlist",
                    "-hls_segment_filename", directory.appendingPathComponent("\(name)%03d.ts").path,
                    directory.appendingPathComponent("\(name).m3u8").path,
                ]
                encoder.currentDirectoryURL = directory
                try encoder.run()
                encoder.waitUntilExit()
                guard encoder.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
            }
            var files: [String: [UInt8]] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
                files[name] = Array(try Data(contentsOf: directory.appendingPathComponent(name)))
            }
            files["master.m3u8"] = Array(
                """
                #EXTM3U
                #EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=320x240
                hi.m3u8
                #EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=160x120
                lo.m3u8

                """.utf8
            )
            return files
        }

        /// A stock FFmpeg open (PlainOpen: to the first picture) inside a capture that keeps 256 KiB per turn.
        private static func tracedOpen(_ url: String) async throws -> (PlainOpen.Result, NetworkTrace) {
            try await blocking {
                NetworkTrace.capture(captureBytesPerTurn: 262_144) { PlainOpen.run(url: url, timeout: 20) }
            }
        }

        private static func name(_ hop: NetworkHop) -> String {
            hop.url.flatMap { URL(string: $0)?.lastPathComponent } ?? "?"
        }

        @Test func keepAliveLiveHLSRolesVariantsAndLiveEdge() async throws {
            let files = try Self.liveHLS.get()
            let server = try StaticFileServer(files: files)
            defer { server.stop() }
            let cache = DNSCache(
                configuration: .init(resolver: StaticResolver(["hls.test": [IPAddress("127.0.0.1")!]]))
            )
            let (opened, trace) = try await withInstalledCache(cache) {
                try await Self.tracedOpen("http://hls.test:\(server.port)/master.m3u8")
            }
            #expect(opened.succeeded, "\(String(describing: opened.error))")
            let hops = trace.hops
            let reading = HLSPlaylistReading(trace: trace)
            for hop in hops {
                report(
                    "HLS hop \(hop.index): \(Self.name(hop)) \(hop.role?.rawValue ?? "-") status \(hop.status ?? 0), "
                        + "lookup \(hop.lookup?.source.rawValue ?? "none"), \(hop.reusedConnection ? "reused connection" : "new connection \(hop.establishedConnect?.fd ?? -1)"), "
                        + "\(hop.bytesReceived) bytes, request \(hop.requestStart.map { String(format: "%.1f", trace.milliseconds(at: $0)) } ?? "-") ms "
                        + "→ response \(hop.responseStart.map { String(format: "%.1f", trace.milliseconds(at: $0)) } ?? "-") ms"
                )
            }

            // Roles.
            #expect(hops.first?.role == .masterPlaylist)
            #expect(hops.allSatisfy { $0.role != nil && $0.role != .other && $0.status == 200 })
            let master = try #require(reading.masterPlaylists.first)
            #expect(master.hop == 0 && master.complete)
            #expect(master.variants.map(\.bandwidth) == [800_000, 300_000])
            #expect(master.variants.map(\.resolution) == ["320x240", "160x120"])
            #expect(master.variants.map(\.uri) == ["hi.m3u8", "lo.m3u8"])
            // FFmpeg 5.1 chooses no variant: it fetches every variant's playlist at the open (in the master's
            // order), and a segment of each, since find_stream_info waits for all their streams.
            let fetched = master.fetchedVariants
            report(
                "HLS variants: \(master.variants.map { "\($0.uri) \($0.bandwidth ?? 0) b/s \($0.resolution ?? "?") → playlist hop \($0.playlistHop.map(String.init) ?? "not fetched")" }.joined(separator: "; "))"
            )
            #expect(fetched.map(\.uri) == ["hi.m3u8", "lo.m3u8"])
            for variant in master.variants {
                let playlistHop = try #require(variant.playlistHop)
                #expect(hops[playlistHop].role == .mediaPlaylist)
                #expect(
                    reading.firstSegment(ofPlaylistHop: playlistHop) != nil,
                    "a segment of \(variant.uri) was fetched"
                )
            }

            // Media playlists: live, 1 s target, five segments of ≈ 1 s.
            #expect(reading.mediaPlaylists.count == 2)
            for playlist in reading.mediaPlaylists {
                report(
                    "HLS media playlist hop \(playlist.hop) (\(Self.name(hops[playlist.hop]))): target \(playlist.targetDuration ?? -1) s, "
                        + "sequence \(playlist.mediaSequence), \(playlist.segments.count) segments "
                        + "\(playlist.segments.map { String(format: "%.3f", $0.duration) }.joined(separator: "/")) s, live \(playlist.isLive)"
                )
                #expect(playlist.complete && playlist.isLive)
                #expect(playlist.targetDuration == 1)
                #expect(playlist.segments.count == 5)
                #expect(playlist.segments.allSatisfy { abs($0.duration - 1) < 0.05 })
            }

            // Where FFmpeg started: live_start_index -3, three segments (≈ 3 s) behind the live edge.
            for playlist in reading.mediaPlaylists {
                let first = try #require(reading.firstSegment(ofPlaylistHop: playlist.hop))
                report(
                    "HLS first segment of \(Self.name(hops[playlist.hop])): hop \(first.hop) \(Self.name(hops[first.hop])), "
                        + "sequence \(first.sequence), \(String(format: "%.3f", first.duration)) s, index from end \(first.indexFromEnd ?? 0), "
                        + String(format: "%.3f s behind the live edge", first.secondsFromLiveEdge ?? -1)
                )
                #expect(first.indexFromEnd == -3)
                #expect(abs(try #require(first.secondsFromLiveEdge) - 3) < 0.15)
                #expect(abs(first.duration - 1) < 0.05)
            }
            #expect(reading.segments.allSatisfy { hops[$0.hop].role == .segment })
            #expect(
                hops.filter { $0.role == .segment }.count == reading.segments.count,
                "every segment hop matched a playlist"
            )

            // Warm or cold. The first lookup is a cache miss answered by the resolvers, every later one a cache
            // hit; kept-alive requests make no lookup and no connect.
            #expect(hops[0].lookup?.source == .resolver)
            #expect(
                hops.dropFirst().allSatisfy {
                    $0.reusedConnection ? $0.lookup == nil && $0.connects.isEmpty : $0.lookup?.source == .cache
                }
            )
            // FFmpeg's connections: the master on the top-level one; the media playlists on a second (the second
            // playlist kept alive on it); each variant's first segment on a connection of its own and, since the
            // server speaks HTTP/1.1 (hls `http_multiple` auto), the next segment prefetched at once on another:
            // two more lookups and connects per variant before the first picture. Later segments reuse them.
            let newConnections = hops.filter { !$0.reusedConnection }
            report(
                "HLS connections: \(newConnections.count) for \(hops.count) hops; reused: \(hops.filter(\.reusedConnection).map { Self.name($0) }.joined(separator: ", "))"
            )
            let playlistHops = reading.mediaPlaylists.map(\.hop)
            #expect(!hops[playlistHops[0]].reusedConnection && hops[playlistHops[1]].reusedConnection)
            #expect(hops[playlistHops[1]].remote == hops[playlistHops[0]].remote)
            for playlist in playlistHops {
                let segmentHops = reading.segments.filter { $0.playlistHop == playlist }.map(\.hop)
                try #require(segmentHops.count >= 2)
                #expect(
                    segmentHops.prefix(2).allSatisfy { !hops[$0].reusedConnection },
                    "the first segment and the prefetched next"
                )
                #expect(reading.segments.first { $0.hop == segmentHops[1] }?.indexFromEnd == -2)
                #expect(segmentHops.dropFirst(2).allSatisfy { hops[$0].reusedConnection })
            }
            #expect(newConnections.count == 2 + 2 * playlistHops.count)
        }
    }
}
