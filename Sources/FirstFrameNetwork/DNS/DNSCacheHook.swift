import CNetworkHooks
import FirstFrameCore

#if canImport(Glibc)
import Glibc
#endif

/// Installing a ``DNSCache`` as the process's answer to FFmpeg's `getaddrinfo`.
extension DNSCache {
    private static let current = Locked<DNSCache?>(nil)

    /// The cache answering FFmpeg's lookups, if one is installed.
    public static var installed: DNSCache? { current.withLock { $0 } }

    /// Makes this cache answer every `getaddrinfo` in the process (FFmpeg's included) for names; address
    /// literals, named services and numeric-only lookups still go to libc. Replaces any installed cache.
    /// Has no effect where the hooks are unavailable (see ``NetworkTrace/isAvailable``).
    /// The installed cache learns from every trace captured in the process (`learn(from:)`): it is registered
    /// as a trace observer while it is installed.
    public func install() {
        Self.current.withLock { current in
            if let previous = current, previous !== self { NetworkTraceObservers.unregister(previous) }
            current = self
            NetworkTraceObservers.register(self)
        }
        Self.routeLookupsThroughSwift()
    }

    /// Gives `getaddrinfo` back to libc (threads inside ``answeringLookups(interrupter:deadline:_:)`` keep their cache).
    public static func uninstall() {
        current.withLock { current in
            if let previous = current { NetworkTraceObservers.unregister(previous) }
            current = nil
        }
    }

    /// Runs `body` with lookups on this thread bounded by `interrupter`: its deadline ends a lookup that
    /// misses the cache, and its cancel switch stops the wait. FFmpeg polls the interrupter everywhere except
    /// in getaddrinfo; this covers that gap.
    public static func withLookupDeadline<Result>(
        _ interrupter: Interrupter,
        _ body: () throws -> Result
    ) rethrows -> Result {
        try LookupScope(cache: nil, interrupter: interrupter, deadline: interrupter.deadlineNanoseconds).run(body)
    }

    /// Runs `body` with this cache answering the lookups made on this thread (whatever cache is installed for
    /// the process), bounded by `interrupter` and by `deadline` (`MonotonicClock` ns) when given. How one open
    /// gets its own `resolve` map and family policy without touching other threads.
    public func answeringLookups<Result>(
        interrupter: Interrupter? = nil,
        deadline: UInt64? = nil,
        _ body: () throws -> Result
    ) rethrows -> Result {
        let limit = [deadline, interrupter?.deadlineNanoseconds].compactMap { $0 }.min()
        return try LookupScope(cache: self, interrupter: interrupter, deadline: limit).run(body)
    }

    /// Once any cache is used, the C hook asks Swift about every lookup; with no cache for the thread and none
    /// installed, Swift answers "not mine" and libc resolves.
    static func routeLookupsThroughSwift() {
        #if os(Linux)
        cnh_set_resolver(dnsCacheResolverHook)
        #endif
    }
}

#if os(Linux)
/// The C resolver the getaddrinfo hook calls. It answers names for the request's family and socket type from the
/// calling thread's cache (`answeringLookups`), else the installed one; everything else is left to libc.
private let dnsCacheResolverHook: cnh_resolver_fn = { node, service, hints, result, source, detail in
    let scope = LookupScope.current
    guard let node, let result, scope != nil || DNSCache.installed != nil else { return CNH_NOT_HANDLED }
    let host = String(cString: node)
    if IPAddress(host) != nil {
        source?.pointee = Int32(CNH_SOURCE_LITERAL.rawValue)
        return CNH_NOT_HANDLED
    }
    let request = hints?.pointee ?? addrinfo()
    if request.ai_flags & AI_NUMERICHOST != 0 || host.isEmpty { return CNH_NOT_HANDLED }
    guard let cache = scope?.cache ?? DNSCache.installed else {
        guard let scope, scope.bounds else { return CNH_NOT_HANDLED }
        return boundedSystemLookup(
            host: host,
            service: service.map { String(cString: $0) },
            hints: hints?.pointee,
            result: result,
            scope: scope,
            detail: detail
        )
    }

    let policy = cache.configuration.families
    let wanted: AddressFamilyPolicy
    switch request.ai_family {
    case AF_UNSPEC: wanted = policy
    case AF_INET where policy != .ipv6Only: wanted = .ipv4Only
    case AF_INET6 where policy != .ipv4Only: wanted = .ipv6Only
    default: return CNH_NOT_HANDLED
    }

    var port = 0
    if let service {
        guard let number = Int(String(cString: service)), (0...65535).contains(number) else { return CNH_NOT_HANDLED }
        port = number
    }

    // The node list getaddrinfo would give: one per socket type asked for (all three when none was).
    let tcp = Int32(IPPROTO_TCP)
    let udp = Int32(IPPROTO_UDP)
    let stream = Int32(SOCK_STREAM.rawValue)
    let datagram = Int32(SOCK_DGRAM.rawValue)
    let kinds: [(Int32, Int32)] =
        switch request.ai_socktype {
        case 0: [(stream, tcp), (datagram, udp), (Int32(SOCK_RAW.rawValue), 0)]
        case stream: [(stream, request.ai_protocol == 0 ? tcp : request.ai_protocol)]
        case datagram: [(datagram, request.ai_protocol == 0 ? udp : request.ai_protocol)]
        default: [(request.ai_socktype, request.ai_protocol)]
        }

    let (outcome, from) = cache.lookupReportingSource(host: host, deadline: scope?.deadlineForLookup) {
        scope?.interrupter?.isCancelled ?? false
    }
    source?.pointee =
        switch from {
        case .cache: Int32(CNH_SOURCE_CACHE.rawValue)
        case .stale: Int32(CNH_SOURCE_STALE.rawValue)
        case .negative: Int32(CNH_SOURCE_NEGATIVE.rawValue)
        default: Int32(CNH_SOURCE_RESOLVER.rawValue)
        }
    let answer: DNSCache.Lookup
    switch outcome {
    case .success(let lookup):
        answer = lookup
    case .failure(.noSuchHost), .failure(.noAddresses):
        return EAI_NONAME
    case .failure(.timedOut):
        detail?.pointee = Int32(CNH_DETAIL_TIMED_OUT.rawValue)
        return EAI_AGAIN
    case .failure(.cancelled):
        detail?.pointee = Int32(CNH_DETAIL_CANCELLED.rawValue)
        return EAI_AGAIN
    case .failure(.failed):
        return EAI_FAIL
    }
    let addresses = answer.addresses.filter { wanted.allows($0.family) }
    guard !addresses.isEmpty else { return EAI_NONAME }
    if answer.answeredByHedge { detail?.pointee = Int32(CNH_DETAIL_HEDGE_ANSWERED.rawValue) }
    // The trace will hold this lookup's host, times and answers; the cache keeps why it chose that order.
    if cnh_trace_current() != nil { cache.remember(answer, answered: addresses) }
    let storage = addresses.map { SocketAddress(address: $0, port: port).storage }
    let list = cnh_addrinfo_make(
        storage,
        Int32(storage.count),
        kinds.map(\.0),
        kinds.map(\.1),
        Int32(kinds.count),
        request.ai_flags & AI_CANONNAME != 0 ? host : nil
    )
    guard let list else { return EAI_MEMORY }
    result.pointee = list
    return 0
}
#endif

#if os(Linux)
/// libc's own answer, computed on the resolver pool while the caller waits at most until the scope's deadline or
/// its cancel: the answer is exactly what getaddrinfo gives (the `ffmpeg` preset keeps `AF_UNSPEC` and libc's
/// order), only the wait is bounded. An abandoned lookup finishes on the pool, which frees its list.
private func boundedSystemLookup(
    host: String,
    service: String?,
    hints: addrinfo?,
    result: UnsafeMutablePointer<UnsafeMutablePointer<addrinfo>?>,
    scope: LookupScope,
    detail: UnsafeMutablePointer<Int32>?
) -> Int32 {
    // The list crosses threads as an address: it belongs to whichever side ends up with it.
    struct Answer: Sendable {
        var status: Int32
        var list: UInt
    }
    let flags = hints?.ai_flags ?? 0
    let family = hints?.ai_family ?? 0
    let socketType = hints?.ai_socktype ?? 0
    let socketProtocol = hints?.ai_protocol ?? 0
    let hasHints = hints != nil
    // swift-format-ignore: OnlyOneTrailingClosureArgument
    let answer = BlockingPool.resolvers.run(
        until: scope.deadlineForLookup,
        isCancelled: { scope.interrupter?.isCancelled ?? false },
        discard: { late in
            if late.list != 0 { cnh_real_freeaddrinfo(UnsafeMutablePointer(bitPattern: late.list)) }
        }
    ) { () -> Answer in
        var request = addrinfo()
        request.ai_flags = flags
        request.ai_family = family
        request.ai_socktype = socketType
        request.ai_protocol = socketProtocol
        var list: UnsafeMutablePointer<addrinfo>?
        let status =
            hasHints
            ? cnh_real_getaddrinfo(host, service, &request, &list)
            : cnh_real_getaddrinfo(host, service, nil, &list)
        return Answer(status: status, list: UInt(bitPattern: list))
    }
    guard let answer else {
        let cancelled = scope.interrupter?.isCancelled ?? false
        detail?.pointee = Int32(cancelled ? CNH_DETAIL_CANCELLED.rawValue : CNH_DETAIL_TIMED_OUT.rawValue)
        return EAI_AGAIN
    }
    result.pointee = UnsafeMutablePointer(bitPattern: answer.list)
    return answer.status
}
#endif
