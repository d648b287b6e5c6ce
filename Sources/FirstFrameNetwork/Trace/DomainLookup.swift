import CNetworkHooks
import FirstFrameCore

#if canImport(Glibc)
import Glibc
#endif

/// A `getaddrinfo` call: the host asked for and what answered it.
public struct DomainLookup: Sendable, Codable, Hashable {
    /// What answered the lookup.
    public enum Source: String, Sendable, Codable {
        /// libc's getaddrinfo.
        case system
        /// A fresh ``DNSCache`` entry.
        case cache
        /// An expired cache entry, served while it is refreshed.
        case stale
        /// A cache miss, resolved by the cache's resolvers while FFmpeg waited.
        case resolver
        /// The host was an address literal.
        case literal
        /// A cached failure.
        case negative

        init(_ raw: Int32) {
            switch raw {
            case 1: self = .cache
            case 2: self = .stale
            case 3: self = .resolver
            case 4: self = .literal
            case 5: self = .negative
            default: self = .system
            }
        }
    }

    /// Why a lookup failed, typed (the `EAI_*` code is in ``errorCode``).
    public enum Failure: String, Sendable, Codable, Hashable {
        /// The lookup's deadline passed before an answer (the DNS cache's timeout or the open's deadline).
        case timedOut
        /// The open was cancelled while the lookup waited.
        case cancelled
        /// The name does not exist, or has no address of the family asked for (`EAI_NONAME`, `EAI_NODATA`,
        /// `EAI_ADDRFAMILY`).
        case notFound
        /// Any other failure of the resolver (`EAI_AGAIN`, `EAI_FAIL`, `EAI_MEMORY`, …).
        case resolverError

        /// The failure an `EAI_*` code and the hooks' detail (`CNH_DETAIL_*`) stand for.
        init(eaiCode: Int32, detail: Int32) {
            switch detail {
            case Int32(CNH_DETAIL_TIMED_OUT.rawValue): self = .timedOut
            case Int32(CNH_DETAIL_CANCELLED.rawValue): self = .cancelled
            default:
                // glibc: EAI_NODATA -5 and EAI_ADDRFAMILY -9 are GNU extensions the Swift overlay may not name.
                self = [EAI_NONAME, -5, -9].contains(eaiCode) ? .notFound : .resolverError
            }
        }
    }

    public var host: String
    public var service: String
    public var start: UInt64
    public var end: UInt64?
    public var answers: [SocketAddress]
    public var source: Source
    /// The `EAI_*` code of a failed lookup, and its text (with the reason when the cache timed out).
    public var errorCode: Int32?
    public var error: String?
    /// Why the lookup failed, typed; nil when it answered.
    public var failure: Failure?
    /// A cache miss answered by the cache's hedged second query (the first was lost or slow), not the first.
    public var answeredByHedge: Bool? = nil

    public var duration: UInt64? { end.map { $0 &- start } }
}

extension DomainLookup.Source: CustomStringConvertible {
    /// Its name (`cache`, `literal`, …), as reports spell it: what `print` and string interpolation show, instead of the qualified case.
    public var description: String { rawValue }
}

extension DomainLookup.Failure: CustomStringConvertible {
    /// Its name, as reports spell it: what `print` and string interpolation show, instead of the qualified case.
    public var description: String { rawValue }
}
