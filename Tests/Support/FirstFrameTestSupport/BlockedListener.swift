import FirstFrameCore
import FirstFrameNetwork
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A listener whose accept queue is full, so the kernel drops the next SYN and the client retries it about a
/// second later: a real, kernel-level slow (or, never accepted, dead) connect on loopback.
///
/// `listen(fd, 0)` leaves room for one queued connection; the filler takes it.
package final class BlockedListener: @unchecked Sendable {
    package let fd: Int32
    package let port: Int
    private var filler: Int32 = -1

    /// - Parameters:
    ///   - address: an IPv4 loopback address (127.0.0.0/8).
    ///   - port: 0 for any free port.
    package init(address: String = "127.0.0.1", port: Int = 0) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        self.port = try LoopbackSocket.bind(fd, address: address, port: port)
        guard listen(fd, 0) == 0 else { throw LoopbackSocket.Failure(call: "listen", code: errno) }

        // Fill the queue: this connect completes (the kernel queues it), the next SYN is dropped.
        let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.filler = filler
        let connected = LoopbackSocket.connect(filler, address: address, port: self.port)
        guard connected == 0 else { throw LoopbackSocket.Failure(call: "connect filler", code: errno) }
    }

    /// Takes the filler out of the queue, making room for the next connection.
    package func acceptFiller() -> Int32 {
        Glibc.accept(fd, nil, nil)
    }

    /// Blocks until the next connection is accepted; returns it and the `MonotonicClock` time it was.
    package func accept() -> (fd: Int32, time: UInt64) {
        let accepted = Glibc.accept(fd, nil, nil)
        return (accepted, MonotonicClock.nanoseconds())
    }

    deinit {
        if filler >= 0 { close(filler) }
        close(fd)
    }
}

/// Connects to `port` on 127.0.0.1 and copies bytes both ways between it and `client` until either side
/// closes: puts the origin behind a listener the test controls.
package func relay(_ client: Int32, toPort port: Int) {
    let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    let connected = LoopbackSocket.connect(upstream, port: port)
    guard connected == 0 else {
        close(upstream)
        close(client)
        return
    }
    // The second pump to finish closes both sockets.
    let finished = Mutex(0)
    func pump(_ from: Int32, _ to: Int32) {
        Thread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = recv(from, &buffer, buffer.count, 0)
                if count <= 0 || send(to, buffer, count, Int32(MSG_NOSIGNAL)) != count { break }
            }
            shutdown(to, Int32(SHUT_RDWR))
            shutdown(from, Int32(SHUT_RDWR))
            if finished.withLock({
                $0 += 1
                return $0
            }) == 2 {
                close(upstream)
                close(client)
            }
        }.start()
    }
    pump(client, upstream)
    pump(upstream, client)
}
