import FirstFrameCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An address and port, decoded from a `sockaddr_in`/`sockaddr_in6` the hooks saw.
public struct SocketAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    public var address: IPAddress
    public var port: Int

    public init(address: IPAddress, port: Int) {
        self.address = address
        self.port = port
    }

    public var description: String {
        address.family == .ipv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }

    /// Decodes raw sockaddr bytes; `nil` for other families or short input.
    package init?(sockaddrBytes raw: UnsafeRawBufferPointer) {
        guard raw.count >= MemoryLayout<sa_family_t>.size else { return nil }
        let family = raw.loadUnaligned(fromByteOffset: 0, as: sa_family_t.self)
        if Int32(family) == AF_INET, raw.count >= MemoryLayout<sockaddr_in>.size {
            let v4 = raw.loadUnaligned(as: sockaddr_in.self)
            let bytes = withUnsafeBytes(of: v4.sin_addr) { Array($0) }
            self.init(address: IPAddress(bytes: bytes)!, port: Int(UInt16(bigEndian: v4.sin_port)))
        } else if Int32(family) == AF_INET6, raw.count >= MemoryLayout<sockaddr_in6>.size {
            let v6 = raw.loadUnaligned(as: sockaddr_in6.self)
            let bytes = withUnsafeBytes(of: v6.sin6_addr) { Array($0) }
            self.init(
                address: IPAddress(bytes: bytes, scopeID: v6.sin6_scope_id)!,
                port: Int(UInt16(bigEndian: v6.sin6_port))
            )
        } else {
            return nil
        }
    }

    /// The address as a `sockaddr_storage` holding a `sockaddr_in` or a whole `sockaddr_in6`.
    package var storage: sockaddr_storage {
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { raw in
            if address.family == .ipv4 {
                var v4 = sockaddr_in()
                v4.sin_family = sa_family_t(AF_INET)
                v4.sin_port = UInt16(truncatingIfNeeded: port).bigEndian
                withUnsafeMutableBytes(of: &v4.sin_addr) { $0.copyBytes(from: address.bytes) }
                raw.storeBytes(of: v4, as: sockaddr_in.self)
            } else {
                var v6 = sockaddr_in6()
                v6.sin6_family = sa_family_t(AF_INET6)
                v6.sin6_port = UInt16(truncatingIfNeeded: port).bigEndian
                v6.sin6_scope_id = address.scopeID
                withUnsafeMutableBytes(of: &v6.sin6_addr) { $0.copyBytes(from: address.bytes) }
                raw.storeBytes(of: v6, as: sockaddr_in6.self)
            }
        }
        return storage
    }

    /// Calls `body` with the address as a `sockaddr` and its length (`sockaddr_in` or `sockaddr_in6`).
    package func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var storage = self.storage
        let length = address.family == .ipv4 ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(length)) }
        }
    }
}
