import FirstFrameCore
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation
import OriginTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension OriginTests {
    /// One channel, many clients: every client gets a decodable stream, and a client that stops reading
    /// costs the others nothing.
    @Suite struct FanOut {
        init() { FFmpegLog.level = .error }

        @Test func twoHundredConcurrentClientsEachReceiveADecodableStream() async throws {
            let clients = 200
            try await withOrigin { origin in
                let url = origin.url(.gop)
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                    "firstframe-fanout-\(getpid())"
                )
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: directory) }
                let cpuBefore = Self.processCPUSeconds()
                let started = MonotonicClock.nanoseconds()
                // Every client stays connected for 1.5 s of real-time stream, so all of them overlap.
                let streams = try await withThrowingTaskGroup(of: ReceivedStream.self) { group in
                    for _ in 0..<clients {
                        group.addTask {
                            try await blocking {
                                try ReceivedStream.receive(url, timeout: 20) { received in
                                    guard let key = received.firstKeyframe, let last = received.tags.last else {
                                        return false
                                    }
                                    return last.arrivedAfter - key.arrivedAfter > 1500
                                }
                            }
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let wall = MonotonicClock.milliseconds(since: started) / 1000
                let cpu = Self.processCPUSeconds() - cpuBefore
                let stats = origin.stats()
                report(
                    "fan-out: \(clients) clients, peak \(stats.peakActiveViewers) at once, \(stats.bytesSent / 1024) KiB sent, "
                        + "\(String(format: "%.2f", cpu)) s CPU (origin + clients) over \(String(format: "%.2f", wall)) s, \(stats.tagsDropped) tags dropped"
                )
                #expect(streams.count == clients)
                #expect(stats.peakActiveViewers == clients, "all clients were served at the same time")
                #expect(stats.tagsDropped == 0)
                // Every connection is closed and forgotten once its client has gone.
                #expect(
                    try await eventually(timeout: 5) {
                        origin.openConnections == 0 && origin.stats().activeViewers == 0
                    }
                )

                // Each client's bytes, written out as a file, decode with FFmpeg to the declared picture.
                var decoded = 0
                for (index, stream) in streams.enumerated() {
                    #expect(stream.head.status == 200)
                    #expect(stream.firstMedia?.tag.isKeyframe == true)
                    let file = directory.appendingPathComponent("client-\(index).flv")
                    try Data(stream.body).write(to: file)
                    let path = file.path
                    let result = try await blocking { PlainOpen.run(url: path, timeout: 10) }
                    if result.succeeded && result.pictureWidth == 640 && result.pictureHeight == 360 { decoded += 1 }
                }
                #expect(decoded == clients)
            }
        }

        @Test func aStalledClientDoesNotDelayTheOthers() async throws {
            // A higher bitrate and a small backlog so that the stalled client fills up within a second or two.
            let media = MediaConfiguration(videoBitrate: 3_000_000)
            let configuration = OriginConfiguration(
                media: media,
                clientBacklogBytes: 128 * 1024,
                socketSendBufferBytes: 32 * 1024
            )
            try await withOrigin(configuration) { origin in
                // The stalled client: asks for the stream and never reads a byte.
                let stalled = try RawHTTPClient(url: origin.url(.gop), receiveBuffer: 4096)
                try stalled.sendRequest()
                #expect(
                    try await eventually(timeout: 10) { origin.stats().dropEvents > 0 },
                    "the stalled client is detected"
                )

                // Meanwhile, a healthy client is paced as if it were alone.
                let window = 3000.0
                let url = origin.url(.live)
                let healthy = try await blocking {
                    try ReceivedStream.receive(url, timeout: 10) { received in
                        guard let key = received.firstKeyframe, let last = received.tags.last else { return false }
                        return last.arrivedAfter - key.arrivedAfter > window
                    }
                }
                let key = try #require(healthy.firstKeyframe)
                let lateness = healthy.media.filter { $0.arrivedAfter >= key.arrivedAfter }
                    .map { abs(($0.arrivedAfter - key.arrivedAfter) - Double($0.tag.timestamp - key.tag.timestamp)) }
                let worst = lateness.max() ?? .infinity
                #expect(worst < 100, "healthy client's worst lateness \(worst) ms")

                let stats = origin.stats()
                let stalledStats = try #require(stats.viewers.first { $0.mode == .gop })
                // The healthy client may have left already; whatever was dropped and is not the stalled
                // client's was the healthy client's (one snapshot, so the two figures agree).
                let healthyDropped = stats.tagsDropped - stalledStats.tagsDropped
                report(
                    "stalled client: \(stalledStats.bytesSent / 1024) KiB queued, \(stalledStats.tagsDropped) tags dropped "
                        + "in \(stalledStats.dropEvents) events; healthy client worst lateness \(worst) ms, \(healthyDropped) dropped"
                )
                #expect(stalledStats.tagsDropped > 0)
                #expect(healthyDropped == 0)
                // Bounded: what the stalled client holds is its socket buffers plus the backlog, not the stream.
                #expect(
                    stalledStats.bytesSent < 1024 * 1024,
                    "\(stalledStats.bytesSent) bytes queued for a client that reads nothing"
                )
                withExtendedLifetime(stalled) {}
            }
        }

        @Test func aGopJoinGetsTheWholeCachedGOPEvenWhenItExceedsTheBacklog() async throws {
            // 3 Mbit/s with a 64 KiB backlog: one second of cached GOP is several times the backlog.
            let media = MediaConfiguration(audio: false, videoBitrate: 3_000_000)
            let configuration = OriginConfiguration(
                media: media,
                clientBacklogBytes: 64 * 1024,
                socketSendBufferBytes: 32 * 1024
            )
            try await withOrigin(configuration) { origin in
                #expect(
                    try await eventually(timeout: 5) {
                        (1000...1800).contains(origin.stats().channelTimeMilliseconds % 2000)
                    }
                )
                let url = origin.url(.gop)
                let stream = try await blocking {
                    try ReceivedStream.receive(url, timeout: 5) { $0.media.count >= 30 }
                }
                let frames = stream.media.prefix(30).map(\.tag)
                #expect(frames.first?.isKeyframe == true)
                // Every frame of the cached GOP, none skipped: 40 ms apart at 25 fps.
                let gaps = Set(zip(frames.dropFirst(), frames).map { $0.timestamp - $1.timestamp })
                #expect(gaps == [40], "gaps between consecutive frames: \(gaps)")
                #expect(origin.stats().tagsDropped == 0)
            }
        }

        @Test func aStalledBurstClientSkipsAheadInsteadOfQueueingWithoutBound() async throws {
            let media = MediaConfiguration(gopSeconds: 1, videoBitrate: 3_000_000)
            let configuration = OriginConfiguration(
                media: media,
                clientBacklogBytes: 64 * 1024,
                socketSendBufferBytes: 32 * 1024
            )
            try await withOrigin(configuration) { origin in
                // Join with 0.6–0.9 s cached (over 200 KiB at this bitrate): the client stalls mid-catch-up.
                #expect(
                    try await eventually(timeout: 5) {
                        (600...900).contains(origin.stats().channelTimeMilliseconds % 1000)
                    }
                )
                let stalled = try RawHTTPClient(url: origin.url(.burst), receiveBuffer: 4096)
                try stalled.sendRequest()
                // Its queue passes two GOPs (2 s here) and is cut back to the latest keyframe: many tags at once.
                #expect(try await eventually(timeout: 10) { origin.stats().dropEvents > 0 })
                let viewer = try #require(origin.stats().viewers.first)
                report(
                    "stalled burst client: \(viewer.bytesSent / 1024) KiB sent, \(viewer.tagsDropped) tags skipped in \(viewer.dropEvents) events"
                )
                #expect(viewer.tagsDropped > 25, "a trim skips at least a GOP's worth of frames")
                #expect(viewer.bytesSent < 1024 * 1024)
                withExtendedLifetime(stalled) {}
            }
        }

        /// User + system CPU seconds of this process.
        static func processCPUSeconds() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
            return seconds(usage.ru_utime) + seconds(usage.ru_stime)
        }
    }
}
