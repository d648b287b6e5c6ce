import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writes a whole output file the way a careful program does, whatever the path names.
///
/// - A regular file, or a path where nothing is yet, is replaced **atomically**: the bytes go to a temporary file
///   in the same directory, which is synced and renamed over the path, so a reader sees the old content or the new,
///   never half of it. A file that was there keeps its permission bits.
/// - A symbolic link to a regular file: the file it leads to is replaced atomically, and the link stays a link.
/// - A device, a FIFO (or a link to one, such as `/proc/self/fd/1` on a pipe or a terminal), or a link that leads
///   nowhere yet: written **through**, as a shell's `>` does (`open(O_WRONLY | O_TRUNC)`, no rename) — never
///   replaced by a regular file. A FIFO's write waits for its reader, as any writer's does.
/// - A directory or a socket is refused with ``OutputFileError``.
///
/// When the directory does not let a temporary file be made next to an existing file (no write permission on the
/// directory, only on the file), the file is written through instead.
///
/// ```swift
/// try OutputFile.write(Array(page.html().utf8), to: "report.html")
/// ```
public enum OutputFile {
    /// Writes `bytes` to `path` (see ``OutputFile``).
    ///
    /// - Throws: ``OutputFileError``: the path is a directory or a socket, or a system call failed.
    public static func write(_ bytes: [UInt8], to path: String) throws(OutputFileError) {
        var link = stat()
        guard lstat(path, &link) == 0 else {
            let error = Glibc.errno
            guard error == ENOENT else { throw OutputFileError(.system, path: path, operation: "lstat", errno: error) }
            try replace(path, with: bytes, shownAs: path, mode: nil)
            return
        }
        var target = stat()
        guard stat(path, &target) == 0 else {
            // A link that leads nowhere: written through, creating what it names, as `>` would.
            try writeThrough(path, bytes, creating: true)
            return
        }
        switch target.st_mode & S_IFMT {
        case S_IFDIR: throw OutputFileError(.isDirectory, path: path)
        case S_IFSOCK: throw OutputFileError(.isSocket, path: path)
        case S_IFREG:
            // The link's own file, when `path` is a link: the link stays a link.
            let file = link.st_mode & S_IFMT == S_IFLNK ? try resolved(path) : path
            try replace(file, with: bytes, shownAs: path, mode: target.st_mode & 0o7777)
        default:
            // A character or block device, a FIFO.
            try writeThrough(path, bytes, creating: false)
        }
    }

    /// Writes `bytes` to a temporary file next to `file`, syncs it and renames it over `file`.
    private static func replace(
        _ file: String,
        with bytes: [UInt8],
        shownAs path: String,
        mode: mode_t?
    ) throws(OutputFileError) {
        let directory = (file as NSString).deletingLastPathComponent
        let name = (file as NSString).lastPathComponent
        let temporary =
            (directory.isEmpty ? "" : directory + "/") + ".\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode ?? 0o666)
        guard descriptor >= 0 else {
            let error = Glibc.errno
            // An existing file in a directory this process may not add to: write the file itself.
            if mode != nil, error == EACCES || error == EPERM || error == EROFS {
                try writeThrough(file, bytes, creating: false, shownAs: path)
                return
            }
            throw OutputFileError(
                .system,
                path: path,
                operation: "create a temporary file in \(directory.isEmpty ? "." : directory)",
                errno: error
            )
        }
        do throws(OutputFileError) {
            // open() applied the umask; an existing file keeps exactly the bits it had.
            if let mode { _ = fchmod(descriptor, mode) }
            try writeAll(descriptor, bytes, path: path)
            guard fsync(descriptor) == 0 else {
                throw OutputFileError(.system, path: path, operation: "fsync", errno: Glibc.errno)
            }
            guard close(descriptor) == 0 else {
                throw OutputFileError(.system, path: path, operation: "close", errno: Glibc.errno)
            }
            guard rename(temporary, file) == 0 else {
                throw OutputFileError(.system, path: path, operation: "rename", errno: Glibc.errno)
            }
        } catch {
            _ = close(descriptor)  // harmless after a successful close: EBADF
            unlink(temporary)
            throw error
        }
    }

    /// Opens `path` for writing, truncating it, and writes `bytes`: what a shell's `>` does.
    private static func writeThrough(
        _ path: String,
        _ bytes: [UInt8],
        creating: Bool,
        shownAs shown: String? = nil
    ) throws(OutputFileError) {
        let flags = O_WRONLY | O_TRUNC | O_CLOEXEC | (creating ? O_CREAT : 0)
        var descriptor: Int32
        repeat { descriptor = open(path, flags, 0o666) } while descriptor < 0 && Glibc.errno == EINTR
        guard descriptor >= 0 else {
            let error = Glibc.errno
            if error == ENXIO { throw OutputFileError(.isSocket, path: shown ?? path) }
            throw OutputFileError(.system, path: shown ?? path, operation: "open", errno: error)
        }
        defer { close(descriptor) }
        try writeAll(descriptor, bytes, path: shown ?? path)
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws(OutputFileError) {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                Glibc.write(descriptor, buffer.baseAddress! + written, buffer.count - written)
            }
            if result < 0 {
                let error = Glibc.errno
                if error == EINTR { continue }
                throw OutputFileError(.system, path: path, operation: "write", errno: error)
            }
            written += result
        }
    }

    /// The file a link leads to, through every link on the way.
    private static func resolved(_ path: String) throws(OutputFileError) -> String {
        guard let real = realpath(path, nil) else {
            throw OutputFileError(.system, path: path, operation: "realpath", errno: Glibc.errno)
        }
        defer { free(real) }
        return String(cString: real)
    }
}
