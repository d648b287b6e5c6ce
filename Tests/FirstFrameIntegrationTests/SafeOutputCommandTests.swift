import FirstFrame
import FirstFrameTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension OriginTests {
    /// `firstframe probe --html PATH` (and `sweep --html`, which writes the same way) against every kind of path: a
    /// FIFO of the test's own gets the page through it, a device stays a device, a link to a file stays a link,
    /// a directory is a clear error. The probe opens a refused port: the page is written all the same.
    @Suite struct SafeOutputCommand {
        private static func fileType(_ path: String) -> mode_t {
            var status = stat()
            return lstat(path, &status) == 0 ? status.st_mode & S_IFMT : 0
        }

        private static func probe(_ html: String, port: Int) async throws -> CommandLineProcess {
            try await CommandLineProcess.run(
                ["probe", "http://127.0.0.1:\(port)/live/x.flv", "--html", html],
                timeout: 30
            )
        }

        /// Reads a FIFO until its writer closes it, without waiting to open it (so a writer that never comes
        /// cannot hang the test): polls for up to `timeout` seconds.
        private static func drain(fifo: String, timeout: Double) -> Data? {
            let descriptor = open(fifo, O_RDONLY | O_NONBLOCK)
            guard descriptor >= 0 else { return nil }
            defer { close(descriptor) }
            let deadline = MonotonicClock.nanoseconds() + UInt64(timeout * 1e9)
            var data = Data()
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while MonotonicClock.nanoseconds() < deadline {
                var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 100) > 0 else { continue }
                let count = read(descriptor, &buffer, buffer.count)
                if count > 0 {
                    data.append(contentsOf: buffer[..<count])
                    continue
                }
                // POLLHUP with nothing left: a writer came and closed.
                if count == 0 { return data }
                if errno != EAGAIN && errno != EINTR { return nil }
            }
            return nil
        }

        @Test(
            .enabled(
                if: CommandLineProcess.executable != nil,
                "the firstframe executable is not built next to the tests"
            )
        )
        func aFIFOGetsThePageThroughIt() async throws {
            let closed = try ClosedPort()
            let directory = try CommandLineProcess.scratchDirectory("probe-fifo")
            defer { try? FileManager.default.removeItem(at: directory) }
            let fifo = directory.appendingPathComponent("page.html").path
            try #require(mkfifo(fifo, 0o600) == 0)
            async let page = blocking { Self.drain(fifo: fifo, timeout: 25) }
            let run = try await Self.probe(fifo, port: closed.port)
            let received = try await page
            #expect(run.status == 1 && run.stderr.contains("wrote \(fifo)"), "\(run.transcript)")
            #expect(
                received.map { String(decoding: $0, as: UTF8.self) }?.hasSuffix("</html>\n") == true,
                "the reader got \(received?.count ?? -1) bytes"
            )
            #expect(Self.fileType(fifo) == S_IFIFO, "the FIFO is still a FIFO")
        }

        @Test(
            .enabled(
                if: CommandLineProcess.executable != nil,
                "the firstframe executable is not built next to the tests"
            )
        )
        func aDeviceALinkAndADirectory() async throws {
            let closed = try ClosedPort()
            let directory = try CommandLineProcess.scratchDirectory("probe-paths")
            defer { try? FileManager.default.removeItem(at: directory) }

            // A character device (the test's own copy of /dev/null as root) stays one.
            let device = try ScratchDirectory.nullDevice(in: directory)
            let toDevice = try await Self.probe(device, port: closed.port)
            #expect(toDevice.status == 1 && toDevice.stderr.contains("wrote \(device)"), "\(toDevice.transcript)")
            #expect(Self.fileType(device) == S_IFCHR, "\(device) is still a character device")

            // A link to a file: the file gets the page, the link stays a link.
            let target = directory.appendingPathComponent("real.html").path
            let link = directory.appendingPathComponent("link.html").path
            try Data("old".utf8).write(to: URL(fileURLWithPath: target))
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
            let toLink = try await Self.probe(link, port: closed.port)
            #expect(toLink.status == 1, "\(toLink.transcript)")
            #expect(Self.fileType(link) == S_IFLNK)
            #expect(try String(contentsOfFile: target, encoding: .utf8).hasPrefix("<!DOCTYPE html>"))

            // A directory: a clear error, and nothing left in it.
            let folder = directory.appendingPathComponent("folder")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
            let toFolder = try await Self.probe(folder.path, port: closed.port)
            #expect(toFolder.status != 0 && toFolder.stderr.contains("is a directory"), "\(toFolder.transcript)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
        }
    }
}
