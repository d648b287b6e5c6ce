import CNetworkHooks
import FirstFrameCore
import FirstFrameNetwork
import FirstFrameTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension NetworkTests {
    /// Warm connections handed to connect(), spares, and hedged connects: real sockets on loopback, FFmpeg's call
    /// sequence (non-blocking socket, connect, poll for POLLOUT, getsockopt(SO_ERROR)) made by hand on a traced
    /// thread.
    @Suite(.enabled(if: NetworkTrace.isAvailable, "the hooks interpose libc only on Linux, without sanitizers"))
    struct WarmConnectionTests {
        /// A listening socket on 127.0.0.1 that counts what it accepts.
        final class Listener: @unchecked Sendable {
            let fd: Int32
            let port: Int
            var address: SocketAddress { SocketAddress(address: IPAddress("127.0.0.1")!, port: port) }

            init() throws {
                fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                port = try LoopbackSocket.bind(fd)
                listen(fd, 16)
            }

            /// Accepts what is queued now, without waiting.
            func acceptQueued() -> [Int32] {
                var accepted: [Int32] = []
                while true {
                    var probe = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    guard poll(&probe, 1, 0) == 1 else { return accepted }
                    accepted.append(accept(fd, nil, nil))
                }
            }

            deinit { close(fd) }
        }

        /// FFmpeg's connect (libavformat/network.c): SOCK_CLOEXEC socket, O_NONBLOCK, TCP_NODELAY (instant sets
        /// `tcp_nodelay`), connect, then poll for POLLOUT and SO_ERROR. Returns the socket and SO_ERROR.
        static func ffmpegConnect(to address: SocketAddress, pollTimeoutMs: Int32 = 3000) -> (fd: Int32, error: Int32) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let status = address.withSockaddr { Glibc.connect(fd, $0, $1) }
            if status == 0 { return (fd, 0) }
            guard errno == EINPROGRESS else { return (fd, errno) }
            // ff_poll_interrupt: 100 ms slices.
            var waited: Int32 = 0
            var probe = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            while waited < pollTimeoutMs {
                if poll(&probe, 1, 100) != 0 { break }
                waited += 100
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            return (fd, probe.revents == 0 ? ETIMEDOUT : error)
        }

        /// This process's open sockets connected to `port` on the other end: what a leaked connection of these
        /// tests would be. (Counting every descriptor is not: libdispatch and earlier tests' background closes
        /// open and close descriptors of their own at times no test controls.) Sockets from /proc/self/fd, their
        /// peers from /proc/self/net/tcp.
        static func socketsConnected(toPort port: Int) -> Int {
            var inodes = Set<String>()
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
            for name in fds {
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)"),
                    target.hasPrefix("socket:[")
                else { continue }
                inodes.insert(String(target.dropFirst(8).dropLast()))
            }
            let table = (try? String(contentsOfFile: "/proc/self/net/tcp", encoding: .utf8)) ?? ""
            let peerPort = String(format: ":%04X", port)
            return table.split(separator: "\n").dropFirst().filter { line in
                let fields = line.split(separator: " ")
                return fields.count > 9 && fields[2].hasSuffix(peerPort) && inodes.contains(String(fields[9]))
            }.count
        }

        static func option(_ fd: Int32, _ level: Int32, _ name: Int32) -> Int32 {
            var value: Int32 = -1
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, level, name, &value, &length)
            return value
        }

        @Test func aSecondConnectOfAnOpenIsHandedTheSpareTheFirstOneOpened() throws {
            WarmConnections.shared.drain()
            let listener = try Listener()
            let policy = ConnectPolicy(spareConnections: 1)
            let (sockets, trace) = NetworkTrace.capture(connectPolicy: policy) {
                let first = Self.ffmpegConnect(to: listener.address)
                // The spare was opened when the first connect succeeded: the server has two connections queued
                // before the second connect is even made.
                let acceptedBefore = listener.acceptQueued()
                let pooled = WarmConnections.shared.count(to: listener.address)
                let second = Self.ffmpegConnect(to: listener.address)
                let acceptedAfter = listener.acceptQueued()
                return (first, acceptedBefore, pooled, second, acceptedAfter)
            }
            let (first, acceptedBefore, pooled, second, acceptedAfter) = sockets
            defer {
                for fd in [first.fd, second.fd] + acceptedBefore + acceptedAfter { close(fd) }
            }
            #expect(first.error == 0 && second.error == 0)
            #expect(acceptedBefore.count == 2, "the first connection and its spare")
            #expect(pooled == 1)
            #expect(acceptedAfter.isEmpty, "the second connect made no new connection")
            // The caller's flags came with it: non-blocking, close-on-exec, TCP_NODELAY.
            #expect(fcntl(second.fd, F_GETFL) & O_NONBLOCK != 0)
            #expect(fcntl(second.fd, F_GETFD) & FD_CLOEXEC != 0)
            #expect(Self.option(second.fd, Int32(IPPROTO_TCP), TCP_NODELAY) != 0)
            // And it is the spare's connection: what goes in arrives at the server's second accepted socket.
            #expect(send(second.fd, "x", 1, 0) == 1)
            var byte: UInt8 = 0
            #expect(recv(acceptedBefore[1], &byte, 1, 0) == 1 && byte == UInt8(ascii: "x"))
            let connects = trace.hops.flatMap(\.connects)
            #expect(connects.count == 2)
            #expect(connects.first?.isWarm == false)
            #expect(connects.last?.isWarm == true && connects.last?.outcome == .connected)
            #expect(WarmConnections.shared.count == 0)
        }

        @Test func sparesLeftUnusedAreClosedWhenTheCaptureEnds() throws {
            WarmConnections.shared.drain()
            let listener = try Listener()
            let (first, _) = NetworkTrace.capture(connectPolicy: ConnectPolicy(spareConnections: 3)) {
                let first = Self.ffmpegConnect(to: listener.address)
                #expect(WarmConnections.shared.count(to: listener.address) == 3)
                return first
            }
            close(first.fd)
            #expect(WarmConnections.shared.count == 0)
            // The server sees the three spares end.
            let accepted = listener.acceptQueued()
            defer { for fd in accepted { close(fd) } }
            #expect(accepted.count == 4)
            var byte: UInt8 = 0
            for fd in accepted { #expect(recv(fd, &byte, 1, 0) == 0) }
            #expect(Self.socketsConnected(toPort: listener.port) == 0)
        }

        @Test func aPooledConnectionWhosePeerClosedIsNotHandedOver() async throws {
            WarmConnections.shared.drain()
            let listener = try Listener()
            try await WarmConnections.shared.prepare(to: listener.address, timeout: .seconds(2), idle: .seconds(30))
            #expect(WarmConnections.shared.count(to: listener.address) == 1)
            // The server closes it (an idle timeout at the edge).
            for fd in listener.acceptQueued() { close(fd) }
            let (result, trace) = NetworkTrace.capture(connectPolicy: ConnectPolicy()) {
                Self.ffmpegConnect(to: listener.address)
            }
            defer { close(result.fd) }
            let fresh = listener.acceptQueued()
            defer { for fd in fresh { close(fd) } }
            #expect(result.error == 0)
            #expect(fresh.count == 1, "a new connection, not the dead one")
            #expect(trace.hops.flatMap(\.connects).first?.isWarm == false)
            #expect(WarmConnections.shared.count == 0, "the dead one was closed")
        }

        @Test func prepareHandsItsConnectionToAnOpenAndPreparingLeaksNothing() async throws {
            WarmConnections.shared.drain()
            let listener = try Listener()
            for _ in 0..<20 {
                try await WarmConnections.shared.prepare(to: listener.address, timeout: .seconds(2), idle: .seconds(30))
                let (result, trace) = NetworkTrace.capture(connectPolicy: ConnectPolicy()) {
                    Self.ffmpegConnect(to: listener.address)
                }
                #expect(result.error == 0 && trace.hops.flatMap(\.connects).first?.isWarm == true)
                close(result.fd)
                for fd in listener.acceptQueued() { close(fd) }
            }
            // Prepared, never taken, drained.
            for _ in 0..<5 {
                try await WarmConnections.shared.prepare(to: listener.address, timeout: .seconds(2), idle: .seconds(30))
            }
            #expect(WarmConnections.shared.drain() == 5)
            for fd in listener.acceptQueued() { close(fd) }
            #expect(Self.socketsConnected(toPort: listener.port) == 0)
        }

        @Test func prepareChecksItsSettingsAndThePoolsCapacity() async throws {
            WarmConnections.shared.drain()
            let listener = try Listener()
            await #expect(throws: WarmConnectionError.self) {
                try await WarmConnections.shared.prepare(to: listener.address, timeout: .zero, idle: .seconds(1))
            }
            #expect(throws: WarmConnectionError.self) { try WarmConnections.shared.setCapacity(0) }
            try WarmConnections.shared.setCapacity(2)
            defer { try? WarmConnections.shared.setCapacity(8) }
            try await WarmConnections.shared.prepare(to: listener.address, timeout: .seconds(2), idle: .seconds(30))
            try await WarmConnections.shared.prepare(to: listener.address, timeout: .seconds(2), idle: .seconds(30))
            await #expect(throws: WarmConnectionError.poolFull(capacity: 2)) {
                try await WarmConnections.shared.prepare(to: listener.address, timeout: .seconds(2), idle: .seconds(30))
            }
            // Refused: nothing listens on the listener's port once it is closed.
            let closedPort = try LoopbackSocket.freePort()
            WarmConnections.shared.drain()
            await #expect(throws: WarmConnectionError.self) {
                try await WarmConnections.shared.prepare(
                    to: SocketAddress(address: IPAddress("127.0.0.1")!, port: closedPort),
                    timeout: .seconds(2),
                    idle: .seconds(30)
                )
            }
            #expect(WarmConnections.shared.count == 0)
            for fd in listener.acceptQueued() { close(fd) }
        }

        @Test func aConnectWhoseSynWasDroppedIsWonByItsHedge() throws {
            // The listener's queue is full: the attempt's SYN is dropped and Linux would retry it after ~1 s.
            let listener = try BlockedListener()
            let address = SocketAddress(address: IPAddress("127.0.0.1")!, port: listener.port)
            let hedge = ConnectPolicy(hedgeAfter: .milliseconds(150))
            let (outcome, trace) = NetworkTrace.capture(connectPolicy: hedge) {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                let status = address.withSockaddr { Glibc.connect(fd, $0, $1) }
                #expect(status == -1 && errno == EINPROGRESS)
                // Room for the next SYN: the hedge's (the attempt's own retry comes ~1 s after its first SYN).
                let filler = listener.acceptFiller()
                let start = MonotonicClock.nanoseconds()
                var probe = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                var polls = 0
                while poll(&probe, 1, 100) == 0, polls < 30 { polls += 1 }
                let waited = MonotonicClock.nanoseconds() - start
                var error: Int32 = -1
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                return (fd, filler, waited, error)
            }
            let (fd, filler, waited, error) = outcome
            let server = listener.accept().fd
            defer { for descriptor in [fd, filler, server] { close(descriptor) } }
            #expect(error == 0)
            // Well before the SYN retransmission (1 s): the hedge connected.
            #expect(waited < 900_000_000, "connected after \(waited / 1_000_000) ms")
            let attempt = try #require(trace.hops.flatMap(\.connects).first)
            #expect(attempt.outcome == .connected)
            #expect(attempt.hedge?.outcome == .hedge)
            // The socket works: a byte reaches the server's end of the hedge's connection.
            #expect(send(fd, "h", 1, 0) == 1)
            var byte: UInt8 = 0
            #expect(recv(server, &byte, 1, 0) == 1 && byte == UInt8(ascii: "h"))
        }

        @Test func aConnectThatAnswersBeforeTheHedgeDelayIsNeverHedged() throws {
            let listener = try Listener()
            let (result, trace) = NetworkTrace.capture(connectPolicy: ConnectPolicy(hedgeAfter: .milliseconds(500))) {
                Self.ffmpegConnect(to: listener.address)
            }
            close(result.fd)
            let accepted = listener.acceptQueued()
            for fd in accepted { close(fd) }
            #expect(result.error == 0)
            #expect(accepted.count == 1)
            #expect(trace.hops.flatMap(\.connects).first?.hedge == nil)
        }
    }
}
