import FirstFrameCore
import FirstFrameNetwork
import FirstFrameTestSupport
import Foundation
import Testing

/// Hop assembly from hand-made event sequences: the cases the loopback tests cannot stage (keep-alive requests as
/// HLS makes them, RTMP, TLS 1.3 without the gnutls hook).
@Suite struct HopAssembly {
    private func sockaddr(_ address: String, _ port: Int) -> [UInt8] {
        var storage = SocketAddress(address: IPAddress(address)!, port: port).storage
        let length = address.contains(":") ? 28 : 16
        return withUnsafeBytes(of: &storage) { Array($0.prefix(length)) }
    }

    private func connected(
        fd: Int32,
        at time: UInt64,
        _ address: String = "127.0.0.1",
        port: Int = 80
    ) -> [NetworkEvent] {
        [
            NetworkEvent(kind: .connectStart, time: time, fd: fd, data: sockaddr(address, port)),
            NetworkEvent(kind: .connectReturn, time: time + 1, fd: fd, result: -1, error: EINPROGRESS),
            NetworkEvent(kind: .socketError, time: time + 10, fd: fd),
        ]
    }

    private func send(_ text: String, fd: Int32, at time: UInt64) -> NetworkEvent {
        NetworkEvent(kind: .send, time: time, fd: fd, result: Int64(text.utf8.count), data: Array(text.utf8))
    }

    private func receive(_ bytes: [UInt8], fd: Int32, at time: UInt64, total: Int? = nil) -> NetworkEvent {
        NetworkEvent(kind: .receive, time: time, fd: fd, result: Int64(total ?? bytes.count), data: bytes)
    }

    @Test func keepAliveRequestsAreHopsOfTheirOwnOnOneConnection() {
        var events = [NetworkEvent(kind: .lookupStart, time: 0, data: Array("cdn.test\u{0}80".utf8))]
        events.append(NetworkEvent(kind: .lookupEnd, time: 5, aux: 1, data: []))
        events += connected(fd: 7, at: 6)
        events.append(send("GET /live.m3u8 HTTP/1.1\r\nHost: cdn.test\r\n\r\n", fd: 7, at: 20))
        events.append(receive(Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n".utf8), fd: 7, at: 30))
        events.append(send("GET /seg1.ts HTTP/1.1\r\nHost: cdn.test\r\n\r\n", fd: 7, at: 40))
        events.append(receive(Array("HTTP/1.1 200 OK\r\n\r\n".utf8), fd: 7, at: 55, total: 40_000))
        events.append(receive([], fd: 7, at: 60, total: 10_000))
        events.append(NetworkEvent(kind: .close, time: 70, fd: 7))
        let hops = replayed(end: 80, events).hops
        #expect(hops.count == 2)
        #expect(hops.map(\.url) == ["http://cdn.test/live.m3u8", "http://cdn.test/seg1.ts"])
        #expect(hops[0].lookup?.source == .cache)
        #expect(hops[0].connects.count == 1 && !hops[0].reusedConnection)
        #expect(hops[1].reusedConnection && hops[1].connects.isEmpty && hops[1].lookup == nil)
        #expect(hops[1].requestStart == 40 && hops[1].responseStart == 55)
        #expect(hops[1].bytesReceived == 50_000)
        #expect(hops[1].closed == 70)
    }

    @Test func rtmpHandshakeIsRecognisedAndTimed() {
        var events = connected(fd: 3, at: 0, port: 1935)
        events.append(
            NetworkEvent(kind: .send, time: 20, fd: 3, result: 1537, data: [0x03] + [UInt8](repeating: 0, count: 64))
        )
        events.append(receive([0x03] + [UInt8](repeating: 1, count: 64), fd: 3, at: 45, total: 1537))
        let hop = replayed(end: 50, events).hops.first
        #expect(hop?.kind == .rtmp)
        #expect(hop?.host == "127.0.0.1" && hop?.port == 1935)
        #expect(hop?.requestStart == 20 && hop?.responseStart == 45)
    }

    /// TLS 1.3 read from record types alone: the client's first encrypted record is its Finished, which ends the
    /// handshake; the request is the next one.
    @Test func tls13HandshakeFromRecordTypes() {
        func record(_ type: UInt8, _ length: Int) -> [UInt8] {
            [type, 0x03, 0x03, UInt8(length >> 8), UInt8(length & 0xFF)] + [UInt8](repeating: 0, count: length)
        }
        var events = connected(fd: 9, at: 0, port: 443)
        events.append(NetworkEvent(kind: .send, time: 20, fd: 9, result: 300, data: record(0x16, 295)))
        events.append(receive(record(0x16, 90) + record(0x14, 1) + record(0x17, 40), fd: 9, at: 30, total: 2000))
        events.append(NetworkEvent(kind: .send, time: 35, fd: 9, result: 80, data: record(0x14, 1) + record(0x17, 69)))
        events.append(NetworkEvent(kind: .send, time: 36, fd: 9, result: 200, data: record(0x17, 195)))
        events.append(receive(record(0x17, 500), fd: 9, at: 50))
        let hop = replayed(end: 60, events).hops.first
        #expect(hop?.kind == .tls)
        #expect(hop?.secureConnectionStart == 20)
        #expect(hop?.secureConnectionEnd == 35)
        #expect(hop?.requestStart == 36)
        #expect(hop?.responseStart == 50)
    }

    @Test func redirectStatusAndLocationAreRead() {
        var events = connected(fd: 4, at: 0)
        events.append(send("GET /a HTTP/1.1\r\nHost: a.test:8080\r\n\r\n", fd: 4, at: 12))
        events.append(receive(Array("HTTP/1.1 302 Found\r\nlocation:  http://b.test/b \r\n\r\n".utf8), fd: 4, at: 20))
        let hop = replayed(end: 30, events).hops.first
        #expect(hop?.url == "http://a.test:8080/a")
        #expect(hop?.status == 302 && hop?.statusLine == "HTTP/1.1 302 Found")
        #expect(hop?.redirectTo == "http://b.test/b")
    }

    @Test func responseHeadSplitAcrossReadsIsStillRead() {
        var events = connected(fd: 5, at: 0)
        events.append(send("GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n", fd: 5, at: 12))
        events.append(receive(Array("HTTP/1.1 301 Moved".utf8), fd: 5, at: 20))
        events.append(receive(Array(" Permanently\r\nLocation: http://b.test/\r\n\r\nbody".utf8), fd: 5, at: 22))
        let hop = replayed(end: 30, events).hops.first
        #expect(hop?.responseStart == 20)
        #expect(hop?.status == 301 && hop?.redirectTo == "http://b.test/")
    }

    @Test func rtmpCommandsStayOneHop() {
        var events = connected(fd: 3, at: 0, port: 1935)
        events.append(
            NetworkEvent(kind: .send, time: 20, fd: 3, result: 1537, data: [0x03] + [UInt8](repeating: 0, count: 64))
        )
        events.append(receive([0x03], fd: 3, at: 45, total: 3073))
        events.append(NetworkEvent(kind: .send, time: 50, fd: 3, result: 1536, data: [1, 2, 3]))
        events.append(receive([2], fd: 3, at: 60, total: 200))
        events.append(NetworkEvent(kind: .send, time: 70, fd: 3, result: 100, data: [3]))
        #expect(replayed(end: 80, events).hops.count == 1)
    }

    private func plaintext(_ kind: NetworkEvent.Kind, _ text: String, session: Int32, at time: UInt64) -> NetworkEvent {
        NetworkEvent(kind: kind, time: time, fd: session, result: Int64(text.utf8.count), data: Array(text.utf8))
    }

    /// HLS over HTTPS keeps the playlist's connection open while segments come over another: each session's
    /// plaintext belongs to its own socket, whichever connected last.
    @Test func overlappingTLSSessionsKeepTheirOwnRequests() {
        var events = connected(fd: 10, at: 0, port: 443)
        events.append(NetworkEvent(kind: .tlsHandshakeStart, time: 20, fd: -100))
        events.append(NetworkEvent(kind: .send, time: 21, fd: 10, result: 300, data: [0x16, 0x03, 0x01]))
        events.append(NetworkEvent(kind: .tlsHandshakeEnd, time: 30, fd: -100))
        events.append(plaintext(.tlsSend, "GET /live.m3u8 HTTP/1.1\r\nHost: cdn.test\r\n\r\n", session: -100, at: 31))
        events.append(plaintext(.tlsReceive, "HTTP/1.1 200 OK\r\n\r\n", session: -100, at: 40))
        events += connected(fd: 11, at: 50, port: 443)
        events.append(NetworkEvent(kind: .tlsHandshakeStart, time: 70, fd: -101))
        events.append(NetworkEvent(kind: .tlsHandshakeEnd, time: 80, fd: -101))
        events.append(plaintext(.tlsSend, "GET /seg1.ts HTTP/1.1\r\nHost: cdn.test\r\n\r\n", session: -101, at: 81))
        events.append(plaintext(.tlsSend, "GET /live.m3u8 HTTP/1.1\r\nHost: cdn.test\r\n\r\n", session: -100, at: 85))
        events.append(plaintext(.tlsReceive, "HTTP/1.1 200 OK\r\n\r\n", session: -101, at: 90))
        events.append(plaintext(.tlsReceive, "HTTP/1.1 404 Not Found\r\n\r\n", session: -100, at: 95))
        let hops = replayed(end: 100, events).hops
        #expect(
            hops.map(\.url) == ["https://cdn.test/live.m3u8", "https://cdn.test/seg1.ts", "https://cdn.test/live.m3u8"]
        )
        #expect(hops.map(\.status) == [200, 200, 404])
        #expect(hops[2].reusedConnection && hops[2].remote == hops[0].remote)
        #expect(hops[2].requestStart == 85 && hops[2].responseStart == 95)
        #expect(hops[1].secureConnectionStart == 70 && hops[1].secureConnectionEnd == 80)
    }

    /// RTMPS: plaintext that is not HTTP is one hop, and random handshake bytes are not read as a request line.
    @Test func rtmpsIsOneHopWithoutAURL() {
        var events = connected(fd: 12, at: 0, port: 443)
        events.append(NetworkEvent(kind: .tlsHandshakeStart, time: 20, fd: -100))
        events.append(NetworkEvent(kind: .tlsHandshakeEnd, time: 30, fd: -100))
        events.append(plaintext(.tlsSend, "\u{3}x GET y HTTP", session: -100, at: 31))
        events.append(plaintext(.tlsReceive, "\u{3}abc", session: -100, at: 40))
        events.append(plaintext(.tlsSend, "\u{3}c2", session: -100, at: 41))
        events.append(plaintext(.tlsReceive, "\u{2}x", session: -100, at: 50))
        events.append(plaintext(.tlsSend, "\u{3}connect", session: -100, at: 51))
        let hops = replayed(end: 60, events).hops
        #expect(hops.count == 1)
        #expect(hops.first?.url == nil)
        #expect(hops.first?.requestStart == 31 && hops.first?.responseStart == 40)
    }
}
