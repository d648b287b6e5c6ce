import FirstFrameCore
import FirstFrameNetwork
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
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
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
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}
