#if canImport(Glibc)
import Glibc
#endif

/// Why ``OutputFile/write(_:to:)`` could not write a path: what it found there, or the system's error.
public struct OutputFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The path is a directory.
        case isDirectory
        /// The path is a socket (nothing can be written to one by opening it).
        case isSocket
        /// A system call failed (`errno` says why): a missing parent directory, no permission, a full device.
        case system
    }

    public let kind: Kind
    /// The path as given.
    public let path: String
    /// `errno` of the call that failed, for ``Kind/system``.
    public let errno: Int32?
    /// What was being done (`open`, `write`, `rename`, …), for ``Kind/system``.
    public let operation: String?

    init(_ kind: Kind, path: String, operation: String? = nil, errno: Int32? = nil) {
        self.kind = kind
        self.path = path
        self.operation = operation
        self.errno = errno
    }

    public var description: String {
        switch kind {
        case .isDirectory: "\(path): is a directory; give a file name"
        case .isSocket: "\(path): is a socket, which cannot be written to as a file"
        case .system:
            "\(path): \(operation ?? "write") failed: \(errno.map { String(cString: strerror($0)) } ?? "unknown error")"
        }
    }
}
