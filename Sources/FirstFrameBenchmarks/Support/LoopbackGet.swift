// In this target the socket constants come through CNetworkHooks' header (it includes <sys/socket.h>).
import CNetworkHooks
import FirstFrame
import Foundation

#if canImport(Glibc)
import Glibc
import FirstFrameNetwork
#endif

/// A blocking `GET` to a server on 127.0.0.1 that answers and closes (the origin's `/sent/NAME`, `/stats`): the
/// body of a 200 response, read to the end. Foundation's `Data(contentsOf:)` takes no `http` URL on Linux without
/// FoundationNetworking, which FirstFrame does not link.
package struct LoopbackGet {
    package struct Failure: Error, CustomStringConvertible {
        package let description: String
    }

    /// The response's status and body.
    package let status: Int
    package let body: Data

    /// Sends `GET path` to 127.0.0.1:`port` and reads the response until the server closes, within `timeout`
    /// seconds for each read.
    package init(port: Int, path: String, timeout: Double = 30) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var wait = timeval(tv_sec: Int(timeout), tv_usec: Int(timeout.truncatingRemainder(dividingBy: 1) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var storage = SocketAddress(address: IPAddress("127.0.0.1")!, port: port).storage
        let connected = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            throw Failure(description: "connect to port \(port): \(String(cString: strerror(errno)))")
        }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else {
            throw Failure(description: "send: \(String(cString: strerror(errno)))")
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "GET \(path): \(String(cString: strerror(errno)))")
            }
            response += buffer[0..<count]
        }
        guard let headLength = HTTPHead.headLength(response),
            let statusLine = String(decoding: response[..<headLength], as: UTF8.self).split(separator: "\r\n").first,
            let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else {
            throw Failure(description: "GET \(path): no HTTP response head")
        }
        self.status = status
        self.body = Data(response[headLength...])
    }

    /// The body of `GET path`, or an error naming the status and what the server said.
    package static func body(port: Int, path: String, timeout: Double = 30) throws -> Data {
        let response = try LoopbackGet(port: port, path: path, timeout: timeout)
        guard response.status == 200 else {
            throw Failure(
                description: "GET \(path): \(response.status) \(String(decoding: response.body, as: UTF8.self))"
            )
        }
        return response.body
    }
}
