import FirstFrameNetwork

extension StreamOpener {
    /// What an opener opens with: the knobs, the preset they came from, and the DNS cache to share, if any.
    ///
    /// ```swift
    /// var configuration = StreamOpener.Configuration(preset: .instant)
    /// try configuration.knobs.set("stageDeadlines", "httpResponse=800")
    /// let opener = try StreamOpener(configuration: configuration, logger: logger)
    /// ```
    public struct Configuration: Sendable {
        /// The knobs every open uses.
        public var knobs: TuningKnobs
        /// The preset the knobs came from, for reports and the `preset` label (nil when built by hand).
        public var presetName: String?
        /// A cache to answer the opens' lookups, shared with other openers; nil lets the opener make one when its
        /// knobs call for it (`ipv4Only`, `resolve`, `prefetchHosts`), or use libc's `getaddrinfo` otherwise.
        public var dnsCache: DNSCache?

        /// `knobs`, from the preset named `presetName`, with `dnsCache`.
        public init(knobs: TuningKnobs, presetName: String? = nil, dnsCache: DNSCache? = nil) {
            self.knobs = knobs
            self.presetName = presetName
            self.dnsCache = dnsCache
        }

        /// `preset`'s knobs.
        public init(preset: Preset) { self.init(knobs: preset.knobs, presetName: preset.rawValue) }

        /// Checks every knob (ranges, finite numbers, the protocol list, …).
        /// - Throws: ``KnobError`` naming the first invalid knob.
        public func validate() throws(KnobError) { try knobs.validate() }
    }
}
