import FirstFrameCore
import FirstFrameNetwork
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// POSIX socket plumbing shared by the test servers (DNS, blocked listener, TLS port picking).
package enum LoopbackSocket {
    package struct Failure: Error, CustomStringConvertible {
        var call: String
        var code: Int32
        package var description: String { "\(call): \(String(cString: strerror(code)))" }
    }

    /// Binds `fd` to an IPv4 `address` and `port` (0: any free one) and returns the port it got.
    package static func bind(_ fd: Int32, address: String = "127.0.0.1", port: Int = 0) throws(Failure) -> Int {
        guard fd >= 0 else { throw Failure(call: "socket", code: errno) }
        var storage = SocketAddress(address: IPAddress(address)!, port: port).storage
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw Failure(call: "bind", code: errno) }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: local.sin_port))
    }

    /// connect() to an IPv4 address; the return value of the call.
    package static func connect(_ fd: Int32, address: String = "127.0.0.1", port: Int) -> Int32 {
        var storage = SocketAddress(address: IPAddress(address)!, port: port).storage
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// A free loopback port, found by binding port 0 and closing again (for servers that bind their own).
    package static func freePort() throws(Failure) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        return try bind(fd)
    }

    /// Whether something listens on 127.0.0.1:`port`, read from /proc/net/tcp: checking by connecting would take
    /// the one connection an `ffmpeg -listen 1` server accepts.
    package static func isListening(port: Int) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return false }
        let local = String(format: "0100007F:%04X", port)
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 3 && fields[1] == local && fields[3] == "0A"
        }
    }
}
