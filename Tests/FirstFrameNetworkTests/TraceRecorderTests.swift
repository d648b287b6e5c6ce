import FirstFrameCore
import FirstFrameNetwork
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a poll reads of the calling thread's trace while it runs: whether there is one, and the connects and
/// requests the hooks have counted so far (the opener's cap on requests).
@Suite(.enabled(if: NetworkTrace.isAvailable, "the hooks interpose libc only on Linux, without sanitizers"))
struct TraceRecorderTests {
    /// A blocking connect to `port` on loopback (closed: refused at once); the hooks see it either way.
    private func connect(port: UInt16) {
        let fd = socket(AF_INET, 1, 0)  // SOCK_STREAM (the constant is not visible in this target)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    @Test func theCountsAreTheCallingThreadsTraceSoFar() {
        #expect(!NetworkTraceRecorder.isTracing)
        #expect(NetworkTraceRecorder.requestCountsSoFar() == (0, 0))
        let (counts, trace) = NetworkTrace.capture {
            let before = NetworkTraceRecorder.requestCountsSoFar()
            connect(port: 9)
            connect(port: 9)
            return (NetworkTraceRecorder.isTracing, before, NetworkTraceRecorder.requestCountsSoFar())
        }
        #expect(counts.0)
        #expect(counts.1 == (0, 0))
        #expect(counts.2.connects == 2 && counts.2.requests == 0)
        #expect(trace.events.filter { $0.kind == .connectStart }.count == 2)
        // The trace ended with the capture: the thread reads nothing any more.
        #expect(!NetworkTraceRecorder.isTracing)
        #expect(NetworkTraceRecorder.requestCountsSoFar() == (0, 0))
    }
}
