import CNetworkHooks
import Dispatch
import FirstFrameCore
import Foundation

/// The process's pool of warm TCP connections: connected before they are needed, handed by the network hooks to
/// FFmpeg's `connect()` to the same address, so that connect takes no round trip.
///
/// ```swift
/// try await WarmConnections.shared.prepare(to: edge, timeout: .seconds(2), idle: .seconds(20))
/// // later, an open whose connect policy accepts warm connections (every opener's does) connects to `edge`:
/// // its report says "warm connection: 0 round trips".
/// ```
///
/// - A connection is handed over only if it is established and healthy: no pending error, no FIN or RST from the
///   peer (a server that closed an idle connection is noticed, and the connection closed, never handed over), no
///   bytes waiting that nobody asked for. The caller's own socket options come with it (`O_NONBLOCK`,
///   `FD_CLOEXEC`, `TCP_NODELAY`, the buffer sizes it set).
/// - The pool holds at most ``capacity`` connections; each is closed after its `idle` time if nobody took it.
/// - Spare connections that an open's ``ConnectPolicy`` opens live here too, and are closed when that open ends.
///
/// The hooks exist only on Linux (``NetworkTrace/isAvailable``); elsewhere ``prepare(to:timeout:idle:)`` throws
/// and the pool stays empty.
public final class WarmConnections: Sendable {
    /// The pool (there is one per process: the hooks' connect sees every socket).
    public static let shared = WarmConnections()

    /// Where ``prepare(to:timeout:idle:)`` waits: its connect blocks a thread until it connects or times out.
    private let pool = BlockingPool(name: "FirstFrame.warm", maximumThreads: 4)

    private init() {}

    /// Connects to `address` and pools the connection, returning once it is established.
    ///
    /// - Parameters:
    ///   - timeout: How long the connect may take, in (0, 60] seconds.
    ///   - idle: How long the connection stays pooled unused before it is closed, in (0, 3600] seconds.
    /// - Throws: ``WarmConnectionError``: an invalid setting, a full pool, or the connect's failure.
    public func prepare(to address: SocketAddress, timeout: Duration, idle: Duration) async throws(WarmConnectionError)
    {
        try await prepare(to: address, timeout: timeout, idle: idle, owner: 0)
    }

    /// As ``prepare(to:timeout:idle:)``, the connection tagged with `owner` (non-zero) so that
    /// ``close(owner:)`` closes it at once: what a preloader does with a room dropped from its list.
    package func prepare(
        to address: SocketAddress,
        timeout: Duration,
        idle: Duration,
        owner: UInt64
    ) async throws(WarmConnectionError) {
        guard timeout > .zero, timeout <= .seconds(60) else { throw .invalid("timeout must be in (0, 60] s") }
        guard idle > .zero, idle <= .seconds(3600) else { throw .invalid("idle must be in (0, 3600] s") }
        guard cnh_hooks_active() == 1 else { throw .unavailable }
        let timeoutMs = Int32(clamping: ConnectPolicy.nanoseconds(timeout) / 1_000_000)
        let idleNs = ConnectPolicy.nanoseconds(idle)
        let status = await pool.run {
            address.withSockaddr { sockaddr, length in
                cnh_warm_connect(sockaddr, length, max(1, timeoutMs), MonotonicClock.nanoseconds() + idleNs, owner)
            }
        }
        switch -status {
        case 0:
            // Nothing else may come by in time to close it: a timer does, once it is due.
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: idleNs))) { [self] in
                closeExpired()
            }
        case EAGAIN: throw .poolFull(capacity: capacity)
        case ETIMEDOUT: throw .timedOut(address)
        default: throw .failed(address, reason: String(cString: strerror(-status)))
        }
    }

    /// Closes the pooled connections ``prepare(to:timeout:idle:owner:)`` made for `owner`; returns how many.
    @discardableResult
    package func close(owner: UInt64) -> Int {
        guard owner != 0 else { return 0 }
        return Int(cnh_warm_close(owner, 1))
    }

    /// Pooled connections, established or still connecting (the dead ones are closed first).
    public var count: Int { Int(cnh_warm_count(nil, 0)) }

    /// Pooled connections to `address`.
    public func count(to address: SocketAddress) -> Int {
        address.withSockaddr { sockaddr, length in Int(cnh_warm_count(sockaddr, length)) }
    }

    /// The most connections the pool holds (default 8, at most 32): ``prepare(to:timeout:idle:)`` and spares beyond
    /// it are refused.
    public var capacity: Int { Int(cnh_warm_capacity()) }

    /// Sets ``capacity``.
    /// - Throws: ``WarmConnectionError/invalid(_:)`` outside 1...32.
    public func setCapacity(_ capacity: Int) throws(WarmConnectionError) {
        guard (1...Int(CNH_WARM_MAX_SLOTS)).contains(capacity) else {
            throw .invalid("capacity must be in 1...\(CNH_WARM_MAX_SLOTS)")
        }
        cnh_warm_set_capacity(Int32(capacity))
    }

    /// Closes every pooled connection; returns how many.
    @discardableResult
    public func drain() -> Int { Int(cnh_warm_drain()) }

    /// Closes the connections past their idle time; returns how many. (The pool also does so whenever it is used.)
    @discardableResult
    public func closeExpired() -> Int { Int(cnh_warm_close(0, 0)) }
}
