/// The names of the spans an open emits (``Telemetry``), after OpenTelemetry's conventions for the network
/// ones. The <doc:Telemetry> article describes their attributes.
public enum SpanNames {
    /// The open, kind client: from the open being asked for to its first picture (or its failure).
    public static let open = "firstframe.open"

    /// A hop's lookup.
    public static func dnsLookup(host: String) -> String { "DNS lookup \(host)" }

    /// One connect attempt (IPv6 addresses in brackets).
    public static func connect(address: String, port: Int) -> String {
        address.contains(":") ? "socket connect [\(address)]:\(port)" : "socket connect \(address):\(port)"
    }

    /// A hop's TLS handshake.
    public static func tlsHandshake(host: String) -> String { "TLS client handshake \(host)" }

    /// An HTTP hop's request: its method, as OpenTelemetry names HTTP client spans.
    public static let httpRequest = "GET"

    /// An RTMP hop: the handshake to the first media byte.
    public static let rtmpPlay = "RTMP play"

    /// One RTMP phase under ``rtmpPlay``: `rtmp.handshake`, `rtmp.connect`, `rtmp.createStream`, `rtmp.play`.
    public static func rtmpPhase(_ name: String) -> String { "rtmp.\(name)" }

    /// A media stage: `formatProbe`, `streamInfo`, `buffering`, `decode` (``Stage``'s raw values).
    public static func stage(_ stage: Stage) -> String { stage.rawValue }
}
