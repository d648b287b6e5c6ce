import FirstFrameCore
import FirstFrameNetwork
import Foundation

/// Opens the warm connection a ``StreamPreloader`` keeps for a room in the `connected` state: the room's host
/// resolved through the opener's DNS cache, a connection to its best edge pooled in `WarmConnections`, which the
/// network hooks hand to FFmpeg's `connect` when the room is opened — no lookup, no TCP handshake at the switch.
///
/// With two or more addresses it races the first two (the field report's "edge IP racing"): both connect, the
/// connect times go into the cache's edge ranking (a failure demotes its address), so the open's lookup puts the
/// winner first and its connect is the one handed the winner's connection; the loser's connection is closed.
package struct RoomConnector: Sendable {
    package var cache: DNSCache
    package var timeout: Duration
    package var idle: Duration
    package var raceEdges: Bool

    /// The warm connection made for a room: where, and the pool owners to close it (and a race's loser) by.
    package struct Warm: Sendable, Hashable {
        package var address: SocketAddress
        package var connectMs: Double
        package var owners: [UInt64]
        /// The addresses raced that had finished when the winner connected, with each one's connect time (nil:
        /// failed).
        package var raced: [String: Double?]
    }

    /// The host and port `url` connects to (the scheme's default port when it names none); nil for a URL that is
    /// not a network stream.
    package static func endpoint(of url: String) -> (host: String, port: Int)? {
        guard let parts = URLComponents(string: url), let host = parts.host, !host.isEmpty else { return nil }
        let defaults = ["http": 80, "https": 443, "rtmp": 1935, "rtmps": 443]
        guard let port = parts.port ?? parts.scheme.flatMap({ defaults[$0.lowercased()] }) else { return nil }
        return (host, port)
    }

    /// Resolves and connects; nil when the URL has no network endpoint, the lookup fails, or no edge connects.
    /// `owner` is the base of the pool owners (one per address raced). `attempts` are the connects, the race's
    /// loser possibly still under way: each closes its own connection when it ends (whoever wants to know that
    /// nothing is left behind awaits them).
    package func connect(_ url: String, owner: UInt64) async -> (warm: Warm?, attempts: [Task<Void, Never>]) {
        guard let (host, port) = Self.endpoint(of: url) else { return (nil, []) }
        let addresses: [IPAddress]
        if let literal = IPAddress(host) {
            addresses = [literal]
        } else {
            guard let lookup = try? await cache.lookup(host: host) else { return (nil, []) }
            addresses = lookup.addresses
        }
        let candidates = Array(addresses.prefix(raceEdges ? 2 : 1))
        guard !candidates.isEmpty else { return (nil, []) }
        let timeout = self.timeout
        let idle = self.idle
        let cache = self.cache
        // Each address connects on its own; the first to connect wins at once (a loser still connecting, say
        // behind a lost SYN, is not waited for: when it finishes, its time is recorded and its connection closed).
        let (results, continuation) = AsyncStream<(Int, Double?)>.makeStream()
        let decided = Locked<Int?>(nil)
        var attempts: [Task<Void, Never>] = []
        for (index, address) in candidates.enumerated() {
            attempts.append(
                Task {
                    let start = MonotonicClock.nanoseconds()
                    var ms: Double?
                    do {
                        try await WarmConnections.shared.prepare(
                            to: SocketAddress(address: address, port: port),
                            timeout: timeout,
                            idle: idle,
                            owner: owner + UInt64(index)
                        )
                        ms = Double(MonotonicClock.nanoseconds() - start) / 1e6
                    } catch {
                        ms = nil
                    }
                    if let ms {
                        cache.recordConnectTime(milliseconds: ms, to: address, host: host)
                    } else if candidates.count > 1 {
                        cache.demote(address, host: host)
                    }
                    let won = decided.withLock { winner -> Bool in
                        guard winner == nil, ms != nil else { return false }
                        winner = index
                        return true
                    }
                    if !won { WarmConnections.shared.close(owner: owner + UInt64(index)) }
                    continuation.yield((index, ms))
                }
            )
        }
        var winner: (index: Int, ms: Double)?
        var raced: [String: Double?] = [:]
        var finished = 0
        for await (index, ms) in results {
            finished += 1
            raced[candidates[index].description] = ms
            if let ms, decided.withLock({ $0 }) == index { winner = (index, ms) }
            if winner != nil || finished == candidates.count { break }
        }
        continuation.finish()
        guard let winner else { return (nil, attempts) }
        let warm = Warm(
            address: SocketAddress(address: candidates[winner.index], port: port),
            connectMs: winner.ms,
            owners: candidates.indices.map { owner + UInt64($0) },
            raced: raced
        )
        return (warm, attempts)
    }
}
