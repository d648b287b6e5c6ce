import FirstFrameNetwork

/// Every metric FirstFrame emits, in one place (Prometheus conventions: `snake_case`, `_total` counters, `_seconds`
/// timers; timers are recorded in nanoseconds with seconds as their preferred display unit). The
/// <doc:Telemetry> article describes each one and its labels.
///
/// Per open (``StreamOpener``, through ``Telemetry``), every series carries ``Label/preset`` and
/// ``Label/protocol`` (and ``Label/host`` when ``Telemetry/labelsHost`` is on); never the URL.
public enum MetricNames {
    // MARK: Per open

    /// Timer, per ``Stage`` that occurred (`stage`): the stage's total (repeats summed). Labels: `outcome`.
    public static let stageSeconds = "firstframe_open_stage_seconds"
    /// Timer, per ``Cause`` (`cause`), for every open that has causes (0 when a cause did not occur, so each
    /// cause's histogram counts every open). Labels: `outcome`.
    public static let causeSeconds = "firstframe_open_cause_seconds"
    /// Timer: the open to its first picture (opens that reached one).
    public static let firstPictureSeconds = "firstframe_open_first_picture_seconds"
    /// Timer: the first picture less what the client cannot take away (network set-up, the server's response,
    /// the keyframe wait): what to compare settings by.
    public static let clientAttributableSeconds = "firstframe_open_client_attributable_seconds"
    /// Timer, for opens with a ``FirstFrameReport/floor`` (a path of 1 ms or more): the least time the link allowed.
    public static let floorSeconds = "firstframe_open_floor_seconds"
    /// Timer, the same opens: the path's round trip the kernel measured (`TCP_INFO`'s least RTT).
    public static let pathRTTSeconds = "firstframe_open_path_rtt_seconds"
    /// Recorder (histogram), the same opens that reached a picture: the first picture ÷ the floor.
    public static let floorRatio = "firstframe_open_floor_ratio"
    /// Recorder (histogram), the same opens: round trips spent beyond those the protocol needs.
    public static let excessRoundTrips = "firstframe_open_excess_round_trips"
    /// Counter: opens, `outcome` `ok` or `failed`.
    public static let opens = "firstframe_opens_total"
    /// Counter: failed opens by the failing `stage` and the failure `kind` (``FirstFrameReport/Failure/Kind``).
    public static let failures = "firstframe_open_failures_total"
    /// Counter: each hop's DNS lookup, by what answered it (`source`: `DomainLookup.Source`). Labels: `outcome`.
    public static let dnsLookups = "firstframe_dns_lookups_total"
    /// Counter: connect attempts, by the attempt's own `outcome` (`ConnectAttempt.Outcome`: `connected`,
    /// `failed`, `abandoned`, `pending`).
    public static let connectAttempts = "firstframe_connect_attempts_total"
    /// Counter: advice given, by `remedy` (``FirstFrameReport/Advice/Remedy``). Labels: `outcome`.
    public static let advice = "firstframe_advice_total"

    // MARK: Preloading (``StreamPreloader``, no labels but `state`)

    /// Counter: opens through a preloader, by the `state` the room was in (``FirstFrameReport/Preload/State``).
    public static let preloadSwitches = "firstframe_preload_switches_total"
    /// Timer, by `state`: the call to the first picture being available.
    public static let preloadSwitchSeconds = "firstframe_preload_switch_seconds"
    /// Counter: bytes read by preloaded rooms closed without being opened (the cost of preloading).
    public static let preloadUnusedBytes = "firstframe_preload_unused_bytes_total"
    /// Timer: how long each room closed without being opened had been kept hot.
    public static let preloadUnusedSeconds = "firstframe_preload_unused_seconds"

    // MARK: DNS cache (every `DNSCache`, no labels)

    public static let dnsCacheHits = DNSCacheMetricNames.hits
    public static let dnsCacheMisses = DNSCacheMetricNames.misses
    public static let dnsCacheStaleServed = DNSCacheMetricNames.staleServed
    public static let dnsCacheNegativeHits = DNSCacheMetricNames.negativeHits
    public static let dnsCacheRefreshes = DNSCacheMetricNames.refreshes
    public static let dnsCacheDemotions = DNSCacheMetricNames.demotions
    /// Gauge: hosts cached, summed over the process's caches.
    public static let dnsCacheEntries = DNSCacheMetricNames.entries

    // MARK: Recorder (labels: `protocol`, and `channel` when the recorder was given one)

    /// Counter: bytes written to the recording's files.
    public static let recorderBytes = "firstframe_recorder_bytes_total"
    /// Counter: successful opens after the first (the recording picked the stream up again).
    public static let recorderReconnects = "firstframe_recorder_reconnects_total"
    /// Counter: gaps in the recording (a stream that ended after it had written media).
    public static let recorderGaps = "firstframe_recorder_gaps_total"
    /// Timer: each gap's wall-clock length, from the last packet before it to the first one after it.
    public static let recorderGapSeconds = "firstframe_recorder_gap_seconds"

    /// The per-open metrics.
    public static let perOpen = [
        stageSeconds, causeSeconds, firstPictureSeconds, clientAttributableSeconds, opens, failures, dnsLookups,
        connectAttempts, advice, floorSeconds, pathRTTSeconds, floorRatio, excessRoundTrips,
    ]
    /// The preloader's metrics.
    public static let preload = [preloadSwitches, preloadSwitchSeconds, preloadUnusedBytes, preloadUnusedSeconds]
    /// The recorder's metrics.
    public static let recorder = [recorderBytes, recorderReconnects, recorderGaps, recorderGapSeconds]
    /// Every metric FirstFrame emits.
    public static var all: [String] { perOpen + DNSCacheMetricNames.all + recorder + preload }

    /// The label (dimension) names. Values are bounded: enum raw values, preset names, protocol names.
    public enum Label {
        /// The preset's name, or `custom` for knobs built by hand.
        public static let preset = "preset"
        /// `http`, `https`, `rtmp`, `rtmps`, `hls`, `file`, another FFmpeg protocol, or `other`.
        public static let `protocol` = "protocol"
        /// The open's outcome (`ok`, `failed`), or on ``connectAttempts`` the attempt's.
        public static let outcome = "outcome"
        /// The URL's host, only when ``Telemetry/labelsHost`` is on (`none` for local files).
        public static let host = "host"
        public static let stage = "stage"
        public static let cause = "cause"
        public static let kind = "kind"
        public static let source = "source"
        public static let remedy = "remedy"
        /// A recorder's channel, only when it was given one.
        public static let channel = "channel"
    }
}
