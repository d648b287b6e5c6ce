import FirstFrameCore
import FirstFrameNetwork
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A raw-socket HTTP server on 127.0.0.1 whose every response is scripted byte for byte: broken status lines,
/// redirects without a `Location`, bodies cut after N bytes, responses that never come, endless bodies produced by
/// a closure. One thread per connection (like ``StaticFileServer``); every connection is closed after its
/// response (no keep-alive), unless the script holds it open.
///
/// ``stop()`` closes every descriptor the server opened (listener and connections) and returns only once every
/// thread it started has closed its own, so a test can compare the process's descriptor count right after.
package final class ScriptedHTTPServer: @unchecked Sendable {
    /// A request as the server read it.
    package struct Request: Sendable {
        /// `GET /x.flv?a=b HTTP/1.1` → `/x.flv?a=b`.
        package var target: String
        /// The target without its query.
        package var path: String
        /// The whole request head, request line included.
        package var head: String
        /// `http://127.0.0.1:PORT`, for scripts that point back at the server (a redirect to itself).
        package var baseURL: String
    }

    /// One step of a response.
    package enum Step: Sendable {
        /// These bytes, exactly.
        case send([UInt8])
        /// Chunk after chunk from the closure (called with 0, 1, 2, …) as fast as the client reads, until it
        /// returns nil, the client goes away or the server stops.
        case stream(@Sendable (Int) -> [UInt8]?)
        /// Nothing more: the connection stays open until the client closes it or the server stops.
        case hold
    }

    /// What to send; the connection is closed after the last step (unless it holds).
    package struct Response: Sendable {
        package var steps: [Step]

        package init(_ steps: [Step]) { self.steps = steps }

        /// These bytes, then close.
        package static func bytes(_ bytes: [UInt8]) -> Response { Response([.send(bytes)]) }
        /// This text (CRLFs written out), then close.
        package static func raw(_ text: String) -> Response { .bytes(Array(text.utf8)) }
        /// Read the request, answer nothing, keep the connection open.
        package static let silence = Response([.hold])

        /// A status line, headers (in order, exactly as given) and a body, then close. `contentLength` adds a
        /// `Content-Length` header for the body.
        package static func http(
            _ status: Int,
            _ reason: String = "",
            headers: [(String, String)] = [],
            body: [UInt8] = [],
            contentLength: Bool = true
        ) -> Response {
            .bytes(
                head(status, reason, headers: headers + (contentLength ? [("Content-Length", "\(body.count)")] : []))
                    + body
            )
        }

        /// `HTTP/1.1 STATUS REASON` and the headers, through the blank line.
        package static func head(_ status: Int, _ reason: String = "", headers: [(String, String)] = []) -> [UInt8] {
            var text = "HTTP/1.1 \(status) \(reason.isEmpty ? Self.reason(status) : reason)\r\n"
            for (name, value) in headers { text += "\(name): \(value)\r\n" }
            return Array((text + "\r\n").utf8)
        }

        private static func reason(_ status: Int) -> String {
            switch status {
            case 200: "OK"
            case 301: "Moved Permanently"
            case 302: "Found"
            case 404: "Not Found"
            case 503: "Service Unavailable"
            default: "Status"
            }
        }
    }

    /// What happens as a connection is accepted.
    package enum Accepting: Sendable {
        /// Read the request head and answer it with the script.
        case serve
        /// Close the sending side at once (the client reads end of stream before any byte), then drain what the
        /// client sends and close. (A plain close() with the request unread would reset the connection instead,
        /// depending on whether the request had arrived yet: not deterministic.)
        case closeAtOnce
    }

    package let port: Int
    package var baseURL: String { "http://127.0.0.1:\(port)" }

    private let listener: Int32
    private let accepting: Accepting
    private let script: @Sendable (Request) -> Response
    private let running = Atomic<Bool>(true)
    /// Open connection descriptors, so that stop() can shut them down (under the lock: a connection's thread
    /// removes its descriptor here before closing it, so stop() never touches a reused number).
    private let connections = Mutex<Set<Int32>>([])
    private let threads = DispatchGroup()
    private let requestLog = Mutex<[String]>([])
    private let stopped = Atomic<Bool>(false)

    /// The request targets received so far, in order.
    package var requests: [String] { requestLog.withLock { $0 } }

    /// - Parameters:
    ///   - accepting: what to do with each accepted connection.
    ///   - script: the response to each request.
    package init(accepting: Accepting = .serve, _ script: @escaping @Sendable (Request) -> Response) throws {
        self.accepting = accepting
        self.script = script
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        do {
            port = try LoopbackSocket.bind(fd)
        } catch {
            if fd >= 0 { close(fd) }
            throw error
        }
        guard listen(fd, 64) == 0 else {
            let code = errno
            close(fd)
            throw LoopbackSocket.Failure(call: "listen", code: code)
        }
        listener = fd
        threads.enter()
        // Named, so that a leak check can tell them from libdispatch's workers (whose name they would inherit).
        let acceptor = Thread { [self] in
            acceptLoop()
            threads.leave()
        }
        acceptor.name = "scripted.accept"
        acceptor.start()
    }

    /// The same response for every path in `routes`, 404 for the rest.
    package convenience init(routes: [String: Response]) throws {
        try self.init { request in routes[request.path] ?? .http(404) }
    }

    /// Stops accepting, ends every connection and waits until every descriptor the server opened is closed.
    package func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        running.store(false, ordering: .releasing)
        // Wakes accept() (EINVAL on Linux); the accept thread closes the listener itself.
        shutdown(listener, Int32(SHUT_RDWR))
        connections.withLock { open in
            for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
        }
        threads.wait()
    }

    deinit { stop() }

    // MARK: Threads

    private func acceptLoop() {
        defer { close(listener) }
        while running.load(ordering: .acquiring) {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            // Registered before the running check, so that stop() either sees it or this loop sees stop().
            let registered = connections.withLock { open -> Bool in
                guard running.load(ordering: .acquiring) else { return false }
                open.insert(client)
                return true
            }
            guard registered else {
                close(client)
                return
            }
            threads.enter()
            let connection = Thread { [self] in
                serve(client)
                connections.withLock { open in
                    open.remove(client)
                    close(client)
                }
                threads.leave()
            }
            connection.name = "scripted.conn"
            connection.start()
        }
    }

    private func serve(_ client: Int32) {
        if case .closeAtOnce = accepting {
            shutdown(client, Int32(SHUT_WR))
            drain(client)
            return
        }
        guard let head = readHead(client) else { return }
        let requestLine = head.split(separator: "\r\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let parts = requestLine.split(separator: " ")
        let target = parts.count > 1 ? String(parts[1]) : "/"
        let path = String(target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        requestLog.withLock { $0.append(target) }
        let response = script(Request(target: target, path: path, head: head, baseURL: baseURL))
        for step in response.steps {
            switch step {
            case .send(let bytes):
                guard sendAll(client, bytes) else { return }
            case .stream(let next):
                var index = 0
                while running.load(ordering: .relaxed), let chunk = next(index) {
                    guard sendAll(client, chunk) else { return }
                    index += 1
                }
            case .hold:
                drain(client)
                return
            }
        }
    }

    /// Reads up to the blank line that ends a request head; nil if the client closed first.
    private func readHead(_ client: Int32) -> String? {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while pending.count < 64 * 1024 {
            if let end = pending.firstRange(of: [13, 10, 13, 10]) {
                return String(decoding: pending[..<end.lowerBound], as: UTF8.self)
            }
            let count = recv(client, &buffer, buffer.count, 0)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return nil }
            pending += buffer[0..<count]
        }
        return nil
    }

    /// Reads and discards until the client closes or the server stops.
    private func drain(_ client: Int32) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(client, &buffer, buffer.count, 0)
            if count < 0, errno == EINTR { continue }
            if count <= 0 { return }
        }
    }

    private func sendAll(_ client: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return false }
            sent += count
        }
        return true
    }
}

/// A socket bound to 127.0.0.1 and owned until ``close()`` (or deinit): what ``ClosedPort`` and
/// ``SilentUDPSocket`` both are.
package class BoundLoopbackSocket: @unchecked Sendable {
    package let port: Int
    fileprivate let fd = Mutex<Int32>(-1)

    fileprivate init(type: Int32) throws {
        let socket = Glibc.socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        do {
            port = try LoopbackSocket.bind(socket)
        } catch {
            if socket >= 0 { Glibc.close(socket) }
            throw error
        }
        fd.withLock { $0 = socket }
    }

    package func close() {
        fd.withLock { fd in
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }

    deinit { close() }
}

/// A TCP port on 127.0.0.1 where a connect is refused at once: the socket is bound (so no one else gets the
/// port while the test runs) but never listens. Close it with ``close()`` (or let it go).
package final class ClosedPort: BoundLoopbackSocket, @unchecked Sendable {
    package init() throws { try super.init(type: Int32(SOCK_STREAM.rawValue)) }
}

/// A UDP socket on 127.0.0.1 that receives DNS queries and never answers them: a resolver that hangs. No
/// thread: queries stay queued in the socket, and ``waitForQuery(timeout:)`` polls for the first one.
package final class SilentUDPSocket: BoundLoopbackSocket, @unchecked Sendable {
    package init() throws { try super.init(type: Int32(SOCK_DGRAM.rawValue)) }

    package var address: SocketAddress { SocketAddress(address: IPAddress("127.0.0.1")!, port: port) }

    /// Blocks until a datagram is queued (without taking it), at most `timeout` seconds; whether one is.
    package func waitForQuery(timeout: Double) -> Bool {
        let socket = fd.withLock { $0 }
        guard socket >= 0 else { return false }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, Int32(timeout * 1000)) > 0
    }
}
