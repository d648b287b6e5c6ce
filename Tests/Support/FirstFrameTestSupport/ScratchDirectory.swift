import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under the temporary directory for one test's files.
public enum ScratchDirectory {
    /// Makes `TMPDIR/firstframe-LABEL-UUID` and returns it.
    public static func make(_ label: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "firstframe-\(label)-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// A device node of the test's own with /dev/null's numbers (major 1, minor 3: glibc's makedev) when this process
    /// may make one, else /dev/null. As root the device must be the test's own: a test that replaced /dev/null would
    /// break the machine, so failing to make it throws.
    public static func nullDevice(in directory: URL) throws -> String {
        let own = directory.appendingPathComponent("null").path
        if getuid() == 0 {
            guard mknod(own, S_IFCHR | 0o666, dev_t(1 << 8 | 3)) == 0 else { throw POSIXError(.EPERM) }
            return own
        }
        return "/dev/null"
    }
}
