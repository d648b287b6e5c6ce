import FirstFrame
import FirstFrameRendering
import FirstFrameTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// ``OutputFile``: regular files replaced atomically, everything else written through or refused, never replaced
/// by a regular file. Every special file is the test's own (a FIFO, a device node made in a temporary directory):
/// no system device is written to in a way that could change it.
@Suite struct OutputFileTests {
    private static func fileType(_ path: String, following: Bool = false) -> mode_t {
        var status = stat()
        let result = following ? stat(path, &status) : lstat(path, &status)
        return result == 0 ? status.st_mode & S_IFMT : 0
    }

    private static func inode(_ path: String) -> ino_t {
        var status = stat()
        return stat(path, &status) == 0 ? status.st_ino : 0
    }

    private static func page(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func aRegularFileIsReplacedAtomicallyAndKeepsItsMode() throws {
        let directory = try ScratchDirectory.make("output-regular")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("page.html").path
        try OutputFile.write(Self.page("first"), to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "first")
        chmod(path, 0o640)
        let before = Self.inode(path)
        try OutputFile.write(Self.page("second"), to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "second")
        #expect(Self.inode(path) != before, "replaced by a rename, not rewritten in place")
        var status = stat()
        stat(path, &status)
        #expect(status.st_mode & 0o7777 == 0o640)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["page.html"],
            "no temporary file left"
        )
    }

    @Test func aSymlinkToAFileStaysALinkAndItsTargetGetsTheContent() throws {
        let directory = try ScratchDirectory.make("output-link")
        defer { try? FileManager.default.removeItem(at: directory) }
        let target = directory.appendingPathComponent("real.html").path
        let link = directory.appendingPathComponent("link.html").path
        try Data("old".utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "real.html")
        try OutputFile.write(Self.page("new"), to: link)
        #expect(Self.fileType(link) == S_IFLNK)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "real.html")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "new")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: directory.path)) == ["real.html", "link.html"])
    }

    @Test func aFIFOIsWrittenThroughToItsReader() async throws {
        let directory = try ScratchDirectory.make("output-fifo")
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("pipe").path
        try #require(mkfifo(fifo, 0o600) == 0)
        // The reader opens the FIFO (which waits for the writer) and reads to its end on a thread of its own.
        async let read = blocking { () throws -> Data in
            let reader = try #require(FileHandle(forReadingAtPath: fifo))
            defer { try? reader.close() }
            return reader.readDataToEndOfFile()
        }
        try await blocking { try OutputFile.write(Self.page("<html>through</html>"), to: fifo) }
        #expect(String(decoding: try await read, as: UTF8.self) == "<html>through</html>")
        #expect(Self.fileType(fifo) == S_IFIFO)
    }

    @Test func aDirectoryAndASocketAreRefusedClearly() throws {
        let directory = try ScratchDirectory.make("output-dir")
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(
            performing: { try OutputFile.write(Self.page("x"), to: directory.path) },
            throws: { ($0 as? OutputFileError)?.kind == .isDirectory && "\($0)".contains("is a directory") }
        )
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)

        let socketPath = directory.appendingPathComponent("s").path
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in socketPath.utf8.enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(bound == 0)
        #expect(
            performing: { try OutputFile.write(Self.page("x"), to: socketPath) },
            throws: { ($0 as? OutputFileError)?.kind == .isSocket }
        )
        #expect(Self.fileType(socketPath) == S_IFSOCK)
    }

    /// A character device stays one: the test's own copy of /dev/null (made with mknod as root), or /dev/null
    /// itself for a user who could not replace it anyway.
    @Test func aCharacterDeviceStaysADevice() throws {
        let directory = try ScratchDirectory.make("output-device")
        defer { try? FileManager.default.removeItem(at: directory) }
        let device = try ScratchDirectory.nullDevice(in: directory)
        try OutputFile.write(Self.page("<html>into the void</html>"), to: device)
        #expect(Self.fileType(device) == S_IFCHR)
        // And through a link to it, as /proc/self/fd/1 on a terminal is.
        let link = directory.appendingPathComponent("out.html").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: device)
        try OutputFile.write(Self.page("<html/>"), to: link)
        #expect(Self.fileType(link) == S_IFLNK && Self.fileType(device) == S_IFCHR)
    }
}
