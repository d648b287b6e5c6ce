import FirstFrameCore
import FirstFrameNetwork
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A tiny authoritative DNS server on 127.0.0.1 (UDP): answers A queries for the names in `zone` with the
/// given TTL, NXDOMAIN otherwise, and lets a test wait for the n-th query. With `dropping`, the first that many
/// queries are logged but never answered: a query (or its answer) lost on the way.
package final class LoopbackDNSServer: @unchecked Sendable {
    package let port: Int
    private let fd: Int32
    private let zone: [String: [IPAddress]]
    private let ttl: UInt32
    private let queries = Mutex<[(name: String, time: UInt64)]>([])
    private let arrived = DispatchSemaphore(value: 0)
    private let running = Atomic<Bool>(true)
    private let dropping: Int

    package init(zone: [String: [IPAddress]], ttl: UInt32, dropping: Int = 0) throws {
        self.zone = zone
        self.ttl = ttl
        self.dropping = dropping
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        self.fd = fd
        port = try LoopbackSocket.bind(fd)
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        Thread { [self] in serve() }.start()
    }

    package var address: SocketAddress { SocketAddress(address: IPAddress("127.0.0.1")!, port: port) }

    /// The names asked so far, with when they were asked (`MonotonicClock` ns).
    package var received: [(name: String, time: UInt64)] { queries.withLock { $0 } }

    /// Waits for one more query, at most `timeout` seconds; whether it came.
    package func waitForQuery(timeout: Double) -> Bool {
        arrived.wait(timeout: .now() + timeout) == .success
    }

    package func stop() {
        running.store(false, ordering: .relaxed)
    }

    private func serve() {
        var buffer = [UInt8](repeating: 0, count: 512)
        while running.load(ordering: .relaxed) {
            var peer = sockaddr_storage()
            var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd, &buffer, buffer.count, 0, $0, &peerLength)
                }
            }
            guard count >= 12 else { continue }
            let query = Array(buffer.prefix(count))
            guard let (name, questionEnd) = Self.question(query) else { continue }
            let answer = respond(to: query, name: name, questionEnd: questionEnd)
            let number = queries.withLock {
                $0.append((name, MonotonicClock.nanoseconds()))
                return $0.count
            }
            if number <= dropping {
                arrived.signal()
                continue
            }
            _ = withUnsafePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, answer, answer.count, 0, $0, peerLength)
                }
            }
            arrived.signal()
        }
        close(fd)
    }

    private static func question(_ query: [UInt8]) -> (String, Int)? {
        var labels: [String] = []
        var offset = 12
        while offset < query.count, query[offset] != 0 {
            let length = Int(query[offset])
            guard offset + 1 + length <= query.count else { return nil }
            labels.append(String(decoding: query[offset + 1..<offset + 1 + length], as: UTF8.self))
            offset += 1 + length
        }
        return (labels.joined(separator: ".").lowercased(), offset + 5)  // root label, type, class
    }

    private func respond(to query: [UInt8], name: String, questionEnd: Int) -> [UInt8] {
        let type = Int(query[questionEnd - 4]) << 8 | Int(query[questionEnd - 3])
        let addresses = (zone[name] ?? []).filter {
            (type == 1 && $0.family == .ipv4) || (type == 28 && $0.family == .ipv6)
        }
        var response = Array(query.prefix(questionEnd))
        response[2] = 0x84 | (query[2] & 0x01)  // response, authoritative, keep RD
        response[3] = zone[name] == nil ? 0x03 : 0x00  // NXDOMAIN or no error
        response[6] = 0
        response[7] = UInt8(addresses.count)
        response[8...11] = [0, 0, 0, 0]
        for address in addresses {
            response += [0xC0, 0x0C]  // the question's name, compressed
            response += [0, UInt8(type), 0, 1]
            response += [UInt8(ttl >> 24), UInt8(ttl >> 16 & 0xFF), UInt8(ttl >> 8 & 0xFF), UInt8(ttl & 0xFF)]
            response += [0, UInt8(address.bytes.count)] + address.bytes
        }
        return response
    }
}
