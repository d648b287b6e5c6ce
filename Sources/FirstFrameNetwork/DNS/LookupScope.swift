import CNetworkHooks
import FirstFrameCore

#if canImport(Glibc)
import Glibc
#endif

/// What the getaddrinfo hook uses for lookups on one thread: a cache of its own (or the installed one), a
/// deadline, a budget per lookup, a cancel switch. With no cache, libc still answers, but on the bounded resolver
/// pool, so the lookup can be abandoned at its deadline or on cancel without changing what libc would answer.
package final class LookupScope: Sendable {
    let cache: DNSCache?
    let interrupter: Interrupter?
    /// `MonotonicClock` ns after which no lookup may go on.
    let deadline: UInt64?
    /// Nanoseconds each lookup may take, counted from its own start (the `dns` stage deadline).
    let lookupBudget: UInt64?

    package init(cache: DNSCache?, interrupter: Interrupter?, deadline: UInt64?, lookupBudget: UInt64? = nil) {
        self.cache = cache
        self.interrupter = interrupter
        self.deadline = deadline
        self.lookupBudget = lookupBudget
    }

    /// The deadline of a lookup that starts now.
    var deadlineForLookup: UInt64? {
        [deadline, interrupter?.deadlineNanoseconds, lookupBudget.map { MonotonicClock.nanoseconds() + $0 }].compactMap
        { $0 }
        .min()
    }

    /// Whether the scope bounds lookups at all (else libc may answer on the calling thread, as it would anyway).
    var bounds: Bool { interrupter != nil || deadline != nil || lookupBudget != nil }

    package func run<Result>(_ body: () throws -> Result) rethrows -> Result {
        if cache != nil || bounds { DNSCache.routeLookupsThroughSwift() }
        let previous = cnh_lookup_context()
        cnh_set_lookup_context(Unmanaged.passUnretained(self).toOpaque())
        defer { cnh_set_lookup_context(previous) }
        return try withExtendedLifetime(self) { try body() }
    }

    static var current: LookupScope? {
        cnh_lookup_context().map { Unmanaged<LookupScope>.fromOpaque($0).takeUnretainedValue() }
    }
}
