import CNetworkHooksTesting
import FirstFrameCore
import FirstFrameNetwork
import Foundation
import Synchronization
import Testing

/// Runs blocking client work on its own thread (never on the cooperative pool).
package func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await DedicatedThread.run(name: "firstframe.tests.client", work)
}

/// Waits, polling, until `condition` holds or `timeout` seconds pass; returns whether it held.
/// For conditions on the origin's own clock (it is a live channel), not as a stand-in for synchronisation.
package func eventually(timeout: Double, _ condition: () -> Bool) async throws -> Bool {
    let deadline = MonotonicClock.nanoseconds() + UInt64(timeout * 1e9)
    while MonotonicClock.nanoseconds() < deadline {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// Prints a measured figure into the test log (CI keeps it), so a passing run still shows its numbers.
package func report(_ line: String) {
    print("[measured] \(line)")
}

/// Installs `cache` for FFmpeg's lookups for the duration of `body`, and always uninstalls it. Every addrinfo
/// list the cache handed out must have been freed by then (FFmpeg frees them through the freeaddrinfo hook).
package func withInstalledCache<T>(_ cache: DNSCache, _ body: () async throws -> T) async rethrows -> T {
    let listsBefore = cnh_addrinfo_live_count()
    cache.install()
    defer {
        DNSCache.uninstall()
        cache.shutdown()
        #expect(cnh_addrinfo_live_count() == listsBefore, "addrinfo lists leaked")
    }
    return try await body()
}

/// Nanoseconds as fractional milliseconds.
package func ms(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e6 }

/// Counts and paces a resolver's calls, so tests can wait on them instead of on the clock.
/// (NSLock, not Mutex: this runs under ThreadSanitizer too, which cannot see Mutex's futexes; see `Locked`.)
package final class ResolverProbe: @unchecked Sendable {
    package init() {}
    private let lock = NSLock()
    private var recorded: [(host: String, families: AddressFamilyPolicy)] = []
    package var calls: [(host: String, families: AddressFamilyPolicy)] { lock.withLock { recorded } }
    private let running = Atomic<Int>(0)
    package let peakConcurrency = Atomic<Int>(0)
    /// Signalled when a call starts and when one finishes.
    package let started = DispatchSemaphore(value: 0)
    package let finished = DispatchSemaphore(value: 0)

    package var callCount: Int { calls.count }

    package func resolver(
        name: String = "probe",
        delay: Duration = .zero,
        ttl: Double? = nil,
        _ answer: @escaping @Sendable (String) throws(DNSError) -> [IPAddress] = { _ in [IPAddress("127.0.0.1")!] }
    ) -> ClosureResolver {
        ClosureResolver(name: name) { [self] host, families throws(DNSError) in
            lock.withLock { recorded.append((host, families)) }
            let now = running.add(1, ordering: .relaxed).newValue
            _ = peakConcurrency.max(now, ordering: .relaxed)
            started.signal()
            defer {
                running.subtract(1, ordering: .relaxed)
                finished.signal()
            }
            if delay > .zero { try? await Task.sleep(for: delay) }
            return DNSAnswer(addresses: try answer(host), ttl: ttl)
        }
    }
}
