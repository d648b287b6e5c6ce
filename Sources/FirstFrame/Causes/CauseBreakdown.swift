extension FirstFrameReport {
    /// The open's time split by cause (``Cause``): the spans, their totals, and how the first keyframe's arrival
    /// was known.
    public struct CauseBreakdown: Sendable, Codable, Hashable {
        /// How the first keyframe's arrival time was found.
        public enum KeyframeArrival: String, Sendable, Codable {
            /// From the network trace: the reads that delivered the keyframe's first and last bytes (HTTP, HTTPS,
            /// chunked or not, and RTMP's chunk stream).
            case network
            /// When the demuxer handed the keyframe out (files, MPEG-TS inside HLS, or a trace that did not
            /// capture far enough): an upper bound, so client wait may be counted as keyframe wait.
            case demuxer
        }

        public var spans: [CauseSpan]
        /// Milliseconds per cause (every cause present, 0 when it did not occur).
        public var totalsMs: [Cause: Double]
        public var keyframeArrival: KeyframeArrival
        /// First picture minus the time the client cannot take away (network set-up, the server's response, the
        /// keyframe wait): what a sweep on a URL it does not control should rank by. Nil when the open failed.
        public var clientAttributableMs: Double?

        public init(spans: [CauseSpan], keyframeArrival: KeyframeArrival, firstPictureMs: Double?) {
            self.spans = spans
            var totals = Dictionary(uniqueKeysWithValues: Cause.allCases.map { ($0, 0.0) })
            for span in spans { totals[span.cause, default: 0] += span.durationMs }
            self.totalsMs = totals
            self.keyframeArrival = keyframeArrival
            self.clientAttributableMs = firstPictureMs.map { picture in
                picture - Cause.allCases.filter { !$0.isClientAttributable }.reduce(0) { $0 + (totals[$1] ?? 0) }
            }
        }

        public subscript(cause: Cause) -> Double { totalsMs[cause] ?? 0 }
    }
}

extension FirstFrameReport.CauseBreakdown.KeyframeArrival: CustomStringConvertible {
    /// Its name, as reports spell it: what `print` and string interpolation show, instead of the qualified case.
    public var description: String { rawValue }
}
