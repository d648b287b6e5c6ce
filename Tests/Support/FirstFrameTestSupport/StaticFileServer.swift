import FirstFrameCore
import FirstFrameNetwork
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 server on 127.0.0.1 for files held in memory: one thread per connection, keep-alive, so
/// HLS can request its playlist and segments the way it does from a CDN.
package final class StaticFileServer: @unchecked Sendable {
    package let port: Int
    private let fd: Int32
    private let files: [String: [UInt8]]
    private let running = Atomic<Bool>(true)

    package init(files: [String: [UInt8]]) throws {
        self.files = files
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        port = try LoopbackSocket.bind(fd)
        guard listen(fd, 16) == 0 else { throw LoopbackSocket.Failure(call: "listen", code: errno) }
        Thread { [self] in acceptLoop() }.start()
    }

    package func stop() {
        running.store(false, ordering: .relaxed)
        shutdown(fd, Int32(SHUT_RDWR))
    }

    deinit { close(fd) }

    private func acceptLoop() {
        while running.load(ordering: .relaxed) {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { continue }
            Thread { [self] in serve(client) }.start()
        }
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while running.load(ordering: .relaxed) {
            // One request head at a time (keep-alive): read until the blank line.
            while !(pending.count >= 4
                && (0...(pending.count - 4)).contains(where: {
                    pending[$0] == 13 && pending[$0 + 1] == 10 && pending[$0 + 2] == 13 && pending[$0 + 3] == 10
                }))
            {
                let count = recv(client, &buffer, buffer.count, 0)
                guard count > 0 else { return }
                pending += buffer[0..<count]
            }
            let text = String(decoding: pending, as: UTF8.self)
            let end = text.range(of: "\r\n\r\n")!
            pending = Array(text[end.upperBound...].utf8)
            let requestLine = text[..<end.lowerBound].split(separator: "\r\n").first ?? ""
            let parts = requestLine.split(separator: " ")
            let path =
                parts.count > 1
                ? String(parts[1].split(separator: "?").first ?? "").trimmingCharacters(
                    in: CharacterSet(charactersIn: "/")
                ) : ""
            let response: [UInt8]
            if let body = files[path] {
                let type = path.hasSuffix(".m3u8") ? "application/vnd.apple.mpegurl" : "video/mp2t"
                response =
                    Array("HTTP/1.1 200 OK\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
                    + body
            } else {
                response = Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".utf8)
            }
            var sent = 0
            while sent < response.count {
                let count = response[sent...].withUnsafeBytes {
                    send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                guard count > 0 else { return }
                sent += count
            }
        }
    }
}
