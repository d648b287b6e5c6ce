import FirstFrameCore

/// Which address a ``DNSCache`` lookup put first, and why.
///
/// FFmpeg connects to the addresses in the order the lookup gives them (racing the next one only after 200–300 ms),
/// so the first address is the edge the open uses. The cache ranks a host's working addresses by their measured
/// connect time (a moving average learned from traces), puts demoted ones last, and now and then puts a
/// less-preferred working address first on purpose, so an edge that got faster is found again.
public struct EdgeChoice: Sendable, Codable, Hashable {
    /// Why ``chosen`` is first.
    public enum Reason: String, Sendable, Codable {
        /// The host has one address: nothing to choose.
        case onlyAddress
        /// No working address has a measured connect time yet: the resolver's order.
        case resolverOrder
        /// The working address with the lowest average connect time (unmeasured ones come after the measured).
        case fastest
        /// A less-preferred working address (the one measured least recently) put first on purpose, to measure it
        /// again: every `explorationInterval`th lookup of the host does this.
        case exploring
        /// The only address that is not demoted: the others failed to connect recently.
        case onlyWorking
        /// Every address failed to connect recently: the resolver's order.
        case allDemoted
    }

    /// One of the host's addresses, as the cache knew it at the lookup.
    public struct Candidate: Sendable, Codable, Hashable {
        public var address: IPAddress
        /// The moving average of its connect times in milliseconds; nil when it has none (never measured, or the
        /// measurements are older than `connectTimeLifetime`).
        public var averageConnectMs: Double?
        /// How many connect times went into the average.
        public var samples: Int
        /// It failed to connect recently, so it goes last (`demotionPeriod`).
        public var demoted: Bool

        /// A candidate as the cache measured it.
        public init(address: IPAddress, averageConnectMs: Double?, samples: Int, demoted: Bool) {
            self.address = address
            self.averageConnectMs = averageConnectMs
            self.samples = samples
            self.demoted = demoted
        }
    }

    /// The address put first.
    public var chosen: IPAddress
    /// Why it was put first.
    public var reason: Reason
    /// Every address the lookup answered, in its order (``chosen`` first).
    public var candidates: [Candidate]

    /// A choice as the cache made it.
    public init(chosen: IPAddress, reason: Reason, candidates: [Candidate]) {
        self.chosen = chosen
        self.reason = reason
        self.candidates = candidates
    }
}
