import FirstFrameCore
import FirstFrameFFmpeg
import FirstFrameOrigin
import FirstFrameTestSupport
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A deliberately plain HTTP/1.1 client over a blocking POSIX socket: it sees exactly the bytes the
/// origin sends and when they arrive, with nothing (no FFmpeg, no NIO) in between. Blocking: use it from
/// a `DedicatedThread`.
/// Used by one thread at a time (handed from one blocking block to the next), hence unchecked.
package final class RawHTTPClient: @unchecked Sendable {
    package struct Failure: Error, CustomStringConvertible {
        package let description: String
    }

    package let fd: Int32
    /// When the request was written (MonotonicClock nanoseconds).
    package private(set) var requestSentAt: UInt64 = 0
    private var pending: [UInt8] = []

    /// Connects to `url`'s host and port. `receiveBuffer` sets SO_RCVBUF before connecting (a small one
    /// makes a client that never reads fill up fast).
    package init(url: String, receiveBuffer: Int? = nil) throws {
        guard let components = URLComponents(string: url), let host = components.host, let port = components.port else {
            throw Failure(description: "bad URL \(url)")
        }
        target =
            (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath)
            + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        hostHeader = "\(host):\(port)"
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
        if var size = receiveBuffer.map(Int32.init) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            throw Failure(description: "connect \(host):\(port): errno \(errno)")
        }
        // Assigned only once connected, so that deinit (which closes it) never sees a closed descriptor.
        self.fd = fd
    }

    private let target: String
    private let hostHeader: String

    deinit { close(fd) }

    package func sendRequest() throws {
        let request =
            "GET \(target) HTTP/1.1\r\nHost: \(hostHeader)\r\nUser-Agent: FirstFrameTests\r\nAccept: */*\r\n\r\n"
        requestSentAt = MonotonicClock.nanoseconds()
        let bytes = Array(request.utf8)
        guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else {
            throw Failure(description: "send: errno \(errno)")
        }
    }

    package enum ReadResult: Equatable {
        case bytes([UInt8])
        case timedOut
        case closed
    }

    /// One `recv` with a timeout (seconds).
    package func read(timeout: Double) -> ReadResult {
        if !pending.isEmpty {
            defer { pending = [] }
            return .bytes(pending)
        }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, Int32(max(0, timeout * 1000)))
        guard ready > 0 else { return .timedOut }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let count = recv(fd, &buffer, buffer.count, 0)
        guard count > 0 else { return .closed }
        return .bytes(Array(buffer[0..<count]))
    }

    package struct Head {
        package var status: Int
        package var headers: [String: String]
        /// Milliseconds from the request to the end of the head.
        package var receivedAfter: Double
    }

    /// Reads the status line and headers; body bytes read with them are kept for the next `read`.
    package func readHead(timeout: Double = 10) throws -> Head {
        var buffer: [UInt8] = []
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeout * 1e9)
        while true {
            if let end = buffer.firstRange(of: [13, 10, 13, 10]) {
                let received = MonotonicClock.milliseconds(since: requestSentAt)
                pending = Array(buffer[end.upperBound...])
                let lines = String(decoding: buffer[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
                let statusParts = lines[0].split(separator: " ")
                guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
                    throw Failure(description: "bad status line \(lines[0])")
                }
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                        in: .whitespaces
                    )
                }
                return Head(status: status, headers: headers, receivedAfter: received)
            }
            let remaining = Double(Int64(deadline) - Int64(MonotonicClock.nanoseconds())) / 1e9
            guard remaining > 0 else { throw Failure(description: "no response head within \(timeout) s") }
            switch read(timeout: remaining) {
            case .bytes(let bytes): buffer += bytes
            case .timedOut: throw Failure(description: "no response head within \(timeout) s")
            case .closed: throw Failure(description: "closed before the response head")
            }
        }
    }
}

/// A stream as one client received it: every tag, with the moment its last byte arrived.
package struct ReceivedStream {
    package struct Arrival {
        package let tag: FLVTag
        /// Milliseconds from the request.
        package let arrivedAfter: Double
    }

    package var head: RawHTTPClient.Head
    package var body: [UInt8] = []
    package var tags: [Arrival] = []
    package var closedByOrigin = false
    /// Milliseconds from the request to the moment the origin's close was read.
    package var closedAfter: Double?

    package var media: [Arrival] { tags.filter { $0.tag.isMedia } }
    package var firstMedia: Arrival? { tags.first { $0.tag.isMedia } }
    package var firstKeyframe: Arrival? { tags.first { $0.tag.isKeyframe } }

    /// Whether the FLV body ends exactly after a whole tag: the header and the parsed tags account for every
    /// body byte.
    package var endsOnTagBoundary: Bool {
        FLVHeader.encodedSize + tags.reduce(0) { $0 + $1.tag.encodedSize } == body.count
    }

    /// Requests `url` and reads FLV tags until `done` says so, the origin closes, or `timeout` seconds pass.
    package static func receive(
        _ url: String,
        timeout: Double = 10,
        receiveBuffer: Int? = nil,
        until done: (ReceivedStream) -> Bool = { _ in false }
    ) throws -> ReceivedStream {
        let reader = try StreamReader(url, timeout: timeout, receiveBuffer: receiveBuffer)
        let remaining = timeout - MonotonicClock.milliseconds(since: reader.requestSentAt) / 1000
        return try reader.read(timeout: remaining, until: done)
    }
}
