import CNetworkHooks
import FirstFrameCore
import FirstFrameNetwork
import FirstFrameTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The trace read as it grows: a poll decodes only what was recorded since the last one, the interpreter fed that
/// way holds what the whole trace gives when read at once, and what learns from traces is told once.
@Suite struct TraceInterpreterTests {
    // MARK: Reading as the trace grows

    /// Each poll decodes the events recorded since the last one, however long the trace has grown: the work of a
    /// poll is the new events, not the trace. (Marks are recorded whether or not the hooks interpose libc, so this
    /// runs under ThreadSanitizer too.)
    @Test func aPollDecodesOnlyTheEventsRecordedSinceTheLast() {
        let live = LiveTrace()
        let label = String(repeating: "x", count: 1024)
        var perPoll: [Int] = []
        var timing: (poll: Double, whole: Double) = (0, 0)
        let (_, trace) = NetworkTrace.capture(quickAck: false, live: live) {
            #expect(live.isReading)
            for _ in 0..<100 {
                for _ in 0..<20 { NetworkTrace.mark(label) }
                perPoll.append(live.catchUp())
            }
            perPoll.append(live.catchUp())
            // What a poll costs now, against reading the whole trace again (what the limit did on every poll).
            for _ in 0..<20 { NetworkTrace.mark(label) }
            let polled = MonotonicClock.nanoseconds()
            _ = live.catchUp()
            let read = MonotonicClock.nanoseconds()
            _ = NetworkTrace(start: 0, end: read, events: live.events())
            timing = (Double(read - polled) / 1e3, Double(MonotonicClock.nanoseconds() - read) / 1e3)
        }
        #expect(perPoll.dropLast() == Array(repeating: 20, count: 100))
        #expect(perPoll.last == 0, "a poll with nothing new decodes nothing")
        #expect(live.decodedEvents == trace.events.count, "every event decoded once")
        #expect(trace.marks.count == 2020 && trace.marks.allSatisfy { $0.label == label })
        #expect(!live.isReading, "the capture is over")
        report(
            "a poll of 20 new events in a trace of 2000: \(timing.poll) µs; interpreting the whole trace again: "
                + "\(timing.whole) µs, before copying it from C as the old poll also did (debug build)"
        )
    }

    /// Real connections on loopback, polled after every call: the hops so far are always what the events so far
    /// give when read at once, and the trace at the end is the one its events give.
    @Test(.enabled(if: NetworkTrace.isAvailable, "the hooks interpose libc only on Linux, without sanitizers"))
    func aTraceReadAsItGrowsIsTheTraceReadAtOnce() throws {
        let server = try ScriptedHTTPServer { request in
            request.path == "/moved"
                ? .http(302, headers: [("Location", "\(request.baseURL)/stream")])
                : .http(200, headers: [("Content-Type", "video/x-flv")], body: [UInt8](repeating: 7, count: 100_000))
        }
        defer { server.stop() }
        let live = LiveTrace(reportsHopEvents: true)
        var told: [HopEvent] = []
        var decoded = 0
        let (_, trace) = NetworkTrace.capture(quickAck: false, live: live) { () -> Void in
            func poll() {
                decoded += live.catchUp()
                told += live.takeHopEvents()
                let hops = live.hops()
                let atOnce = NetworkTrace(start: 0, end: 0, events: live.events()).hops
                #expect(
                    hops
                        == atOnce.map { hop in
                            var hop = hop
                            hop.role = nil
                            return hop
                        }
                )
            }
            for path in ["/moved", "/stream"] {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                #expect(LoopbackSocket.connect(fd, port: server.port) == 0)
                poll()
                let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\n\r\n".utf8)
                #expect(send(fd, request, request.count, 0) == request.count)
                poll()
                var buffer = [UInt8](repeating: 0, count: 8192)
                while recv(fd, &buffer, buffer.count, 0) > 0 { poll() }
                close(fd)
                poll()
            }
            told += live.finishHopEvents()
        }
        #expect(decoded == trace.events.count && live.decodedEvents == decoded, "each event decoded once")
        let atOnce = NetworkTrace(start: trace.start, end: trace.end, events: trace.events)
        #expect(trace.hops == atOnce.hops && trace.responseReads == atOnce.responseReads)
        #expect(trace.hops.map(\.status) == [302, 200])
        #expect(trace.hops.last?.bytesReceived ?? 0 > 100_000)
        expectToldAsRecorded(told, trace.hops)
    }

    // MARK: HLS

    private func get(_ path: String, fd: Int32, at time: UInt64) -> NetworkEvent {
        let text = "GET \(path) HTTP/1.1\r\nHost: cdn.test\r\n\r\n"
        return NetworkEvent(kind: .send, time: time, fd: fd, result: Int64(text.utf8.count), data: Array(text.utf8))
    }

    private func respond(_ text: String, fd: Int32, at time: UInt64) -> NetworkEvent {
        NetworkEvent(kind: .receive, time: time, fd: fd, result: Int64(text.utf8.count), data: Array(text.utf8))
    }

    private func connected(fd: Int32, at time: UInt64) -> [NetworkEvent] {
        var storage = SocketAddress(address: IPAddress("127.0.0.1")!, port: 80).storage
        let address = withUnsafeBytes(of: &storage) { Array($0.prefix(16)) }
        return [
            NetworkEvent(kind: .connectStart, time: time, fd: fd, data: address),
            NetworkEvent(kind: .connectReturn, time: time + 1, fd: fd),
        ]
    }

    /// A variant playlist that fails is not a segment (FFmpeg plays without it); a listed segment that fails is,
    /// from the moment its head is read, and stays the failed segment found.
    @Test func aFailedSegmentIsFoundAndAFailedVariantIsNot() {
        let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlo.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\nhi.m3u8\n"
        let media = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\ns1.ts\n#EXTINF:2,\ns2.ts\n"
        func ok(_ body: String) -> String { "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)" }
        let missing = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        var events = connected(fd: 5, at: 0)
        events.append(get("/live.m3u8", fd: 5, at: 10))
        events.append(respond(ok(master), fd: 5, at: 20))
        events.append(get("/lo.m3u8", fd: 5, at: 30))
        events.append(respond(missing, fd: 5, at: 40))
        events.append(get("/hi.m3u8", fd: 5, at: 50))
        events.append(respond(ok(media), fd: 5, at: 60))
        let variantFailed = events.count
        events += connected(fd: 6, at: 70)
        events.append(get("/s1.ts", fd: 6, at: 80))
        events.append(respond(missing, fd: 6, at: 90))
        let trace = replayed(end: 100, events)
        #expect(trace.hops.map(\.role) == [.masterPlaylist, .other, .mediaPlaylist, .segment])
        let interpreter = TraceInterpreter(events: events.prefix(variantFailed))
        #expect(interpreter.failedResponses == [1])
        #expect(interpreter.failedSegment(events: Array(events.prefix(variantFailed))) == nil)
        let whole = TraceInterpreter(events: events)
        #expect(whole.failedResponses == [1, 3])
        #expect(whole.failedSegment(events: events)?.index == 3)
        #expect(whole.failedSegment(events: events)?.url == "http://cdn.test/s1.ts")
    }

    // MARK: Who learns from traces

    private final class Observer: NetworkTraceObserver {
        let label: String
        let seen = Locked(0)
        init(_ label: String) { self.label = label }
        func traceEnded(_ trace: NetworkTrace) {
            // Other tests capture at the same time: count only this test's traces.
            if trace.marks.contains(where: { $0.label == label }) { seen.withLock { $0 += 1 } }
        }
    }

    /// A capture's own observer is told when it ends; a registered one once, from the outermost capture; one that
    /// is both, once.
    @Test func observersAreToldOfEachTraceOnce() {
        let label = "observer \(UUID())"
        let own = Observer(label)
        let registered = Observer(label)
        let both = Observer(label)
        NetworkTraceObservers.register(registered)
        NetworkTraceObservers.register(both)
        defer {
            NetworkTraceObservers.unregister(registered)
            NetworkTraceObservers.unregister(both)
        }
        _ = NetworkTrace.capture(quickAck: false, live: LiveTrace()) {
            _ = NetworkTrace.capture(quickAck: false, live: LiveTrace(), observer: own) {
                NetworkTrace.mark(label)
            }
            #expect(own.seen.withLock { $0 } == 1, "told when its capture ends")
            #expect(registered.seen.withLock { $0 } == 0, "not from an inner capture")
            _ = NetworkTrace.capture(quickAck: false, live: LiveTrace(), observer: both) {
                NetworkTrace.mark(label)
            }
        }
        #expect(own.seen.withLock { $0 } == 1)
        #expect(registered.seen.withLock { $0 } == 1)
        #expect(both.seen.withLock { $0 } == 1)
    }
}
