import FirstFrameCore
import CNetworkHooks

#if canImport(Glibc)
import Glibc
#endif

/// What the getaddrinfo hook uses for lookups on one thread: a cache of its own (or the installed one), a
/// deadline, a cancel switch.
package final class LookupScope: Sendable {
    let cache: DNSCache?
    let interrupter: Interrupter?
    let deadline: UInt64?

    package init(cache: DNSCache?, interrupter: Interrupter?, deadline: UInt64?) {
        self.cache = cache
        self.interrupter = interrupter
        self.deadline = deadline
    }

    package func run<Result>(_ body: () throws -> Result) rethrows -> Result {
        if cache != nil { DNSCache.routeLookupsThroughSwift() }
        let previous = cnh_lookup_context()
        cnh_set_lookup_context(Unmanaged.passUnretained(self).toOpaque())
        defer { cnh_set_lookup_context(previous) }
        return try withExtendedLifetime(self) { try body() }
    }

    static var current: LookupScope? {
        cnh_lookup_context().map { Unmanaged<LookupScope>.fromOpaque($0).takeUnretainedValue() }
    }
}
