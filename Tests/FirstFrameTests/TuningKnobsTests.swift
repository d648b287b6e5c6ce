import FirstFrame
import FirstFrameNetwork
import FirstFrameTestSupport
import Foundation
import Testing

@Suite struct TuningKnobsByName {
    /// A list knob is checked item by item: an empty item or a protocol this FFmpeg does not have is refused when it
    /// is set, not when an open fails on it.
    @Test(arguments: ["nope,,", "http,,https", "http,nope", ",", "", "http, "])
    func aListKnobRefusesEachBadItem(_ text: String) {
        var knobs = TuningKnobs()
        #expect(throws: KnobError.self, "allowedProtocols=\(text)") { try knobs.set("allowedProtocols", text) }
    }

    /// The values the help calls valid: `format=` (probe) and `caFile=` (the system's bundle) are empty.
    @Test func documentedEmptyValuesAreAccepted() throws {
        var knobs = Preset.ffmpeg.knobs
        try knobs.set("format", "")
        try knobs.set("caFile", "")
        #expect(knobs.format.isEmpty && knobs.caFile.isEmpty)
        try knobs.set("allowedProtocols", "http,https,tls,tcp")
        #expect(knobs.allowedProtocols == ["http", "https", "tls", "tcp"])
    }

    @Test func everyKnobRoundTripsThroughItsText() throws {
        var knobs = Preset.instant.knobs
        knobs.prefetchHosts = ["a.test", "b.test"]
        knobs.resolve = ["a.test": ["127.0.0.1", "::1"]]
        knobs.stageDeadlines = [.dns: 250, .decode: 100]
        knobs.caFile = "/etc/hosts"
        var rebuilt = TuningKnobs()
        for (name, value) in knobs.textValues { try rebuilt.set(name, value) }
        #expect(rebuilt == knobs)
        #expect(Set(knobs.textValues.map(\.name)) == Set(TuningKnobs.names))
    }

    /// A value of every knob that differs from its default.
    static let changedKnobs: TuningKnobs = {
        var knobs = Preset.instant.knobs
        knobs.fpsprobesize = 7
        knobs.probesize = 4096
        knobs.analyzeduration = 250_000
        knobs.formatprobesize = 4096
        knobs.format = "flv"
        knobs.streamWaitMs = 300
        knobs.minVideoFrames = 2
        knobs.minAudioFrames = 3
        knobs.bufferCheckIntervalMs = 20
        knobs.firstHighWaterMarkMs = 80
        knobs.prefetchHosts = ["a.test", "b.test"]
        knobs.resolve = ["a.test": ["127.0.0.1", "::1"], "b.test": ["10.0.0.1"]]
        knobs.stageDeadlines = [.dns: 250, .decode: 100.5]
        knobs.totalDeadline = 2.5
        knobs.allowedProtocols = ["http", "concat", "file"]
        knobs.verifyTLS = false
        knobs.caFile = "/etc/hosts"
        knobs.maxBufferBytes = 1 << 20
        knobs.maxRequests = 5
        knobs.readTimeoutMs = 2500
        knobs.tcpNoDelay = true
        knobs.quickAck = true
        knobs.httpMultiple = 1
        knobs.hlsSegmentProbesize = 2048
        return knobs
    }()

    @Test func everyDescriptorRoundTripsItsDefault() throws {
        let stock = TuningKnobs()
        let changed = Self.changedKnobs
        for descriptor in TuningKnobs.descriptors {
            #expect(descriptor.isDefault(in: stock), "\(descriptor.name)")
            #expect(!descriptor.isDefault(in: changed), "\(descriptor.name): the fixture changes every knob")
            // The default's text, parsed over a changed value, gives back the default (and touches nothing else).
            var knobs = changed
            try descriptor.parse(descriptor.format(stock), into: &knobs)
            #expect(descriptor.isDefault(in: knobs), "\(descriptor.name)")
            var expected = changed
            try expected.set(descriptor.name, descriptor.format(stock))
            #expect(knobs == expected, "\(descriptor.name)")
            // And the changed value's text, parsed over the default, gives back the changed value.
            var rebuilt = stock
            try descriptor.parse(descriptor.format(changed), into: &rebuilt)
            #expect(descriptor.format(rebuilt) == descriptor.format(changed), "\(descriptor.name)")
        }
        // Every knob's default text, over every changed knob, rebuilds the stock knobs.
        var rebuilt = changed
        for descriptor in TuningKnobs.descriptors { try descriptor.parse(descriptor.format(stock), into: &rebuilt) }
        #expect(rebuilt == stock)
        rebuilt = stock
        for descriptor in TuningKnobs.descriptors { try descriptor.parse(descriptor.format(changed), into: &rebuilt) }
        #expect(rebuilt == changed)
    }

    @Test func namesComeFromTheDescriptorTable() {
        #expect(TuningKnobs.names == TuningKnobs.descriptors.map(\.name))
        #expect(
            TuningKnobs.names == [
                "fpsprobesize", "probesize", "analyzeduration", "formatprobesize", "format", "skipStreamInfo",
                "streamWaitMs",
                "minVideoFrames", "minAudioFrames", "bufferCheckIntervalMs", "firstHighWaterMarkMs", "decoderThreads",
                "decodeKeyframeAlone", "ipv4Only", "tcp_nodelay", "quickAck", "spareConnections", "connectHedgeMs",
                "lookupHedgeMs", "http_multiple", "hlsSegmentProbesize", "prefetchHosts", "resolve",
                "stageDeadlines", "allowedProtocols", "verifyTLS", "caFile",
                "maxBufferBytes", "maxRequests", "readTimeoutMs", "totalDeadline",
            ]
        )
        #expect(Set(TuningKnobs.names).count == TuningKnobs.names.count, "no name twice")
        #expect(
            TuningKnobs.descriptors.filter(\.omittedAtDefault).map(\.name) == [
                "prefetchHosts", "resolve", "stageDeadlines", "caFile",
            ]
        )
    }

    @Test func everyDescriptorHasADocLineAndARule() {
        for descriptor in TuningKnobs.descriptors {
            #expect(!descriptor.doc.trimmingCharacters(in: .whitespaces).isEmpty, "\(descriptor.name)")
            #expect(!descriptor.doc.contains("\n"), "\(descriptor.name): one line")
            #expect(!descriptor.rule.trimmingCharacters(in: .whitespaces).isEmpty, "\(descriptor.name)")
        }
    }

    @Test func textValuesMatchTheirFormerOutput() {
        let stock = TuningKnobs().textValues
        #expect(
            stock.map(\.name)
                == TuningKnobs.names.filter { !["prefetchHosts", "resolve", "stageDeadlines", "caFile"].contains($0) }
        )
        #expect(
            stock.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
                == [
                    "fpsprobesize=-1", "probesize=5000000", "analyzeduration=0", "formatprobesize=1048576", "format=",
                    "skipStreamInfo=false", "streamWaitMs=1000", "minVideoFrames=0", "minAudioFrames=0",
                    "bufferCheckIntervalMs=0",
                    "firstHighWaterMarkMs=0", "decoderThreads=0", "decodeKeyframeAlone=false", "ipv4Only=false",
                    "tcp_nodelay=false", "quickAck=false", "spareConnections=0", "connectHedgeMs=0", "lookupHedgeMs=0",
                    "http_multiple=-1", "hlsSegmentProbesize=0",
                    "allowedProtocols=http,https,tls,tcp,rtmp,rtmps,hls,crypto,file", "verifyTLS=true",
                    "maxBufferBytes=15728640",
                    "maxRequests=64", "readTimeoutMs=10000", "totalDeadline=15.0",
                ].joined(separator: " ")
        )
        let changed = Dictionary(uniqueKeysWithValues: Self.changedKnobs.textValues.map { ($0.name, $0.value) })
        #expect(changed["prefetchHosts"] == "a.test,b.test")
        #expect(changed["resolve"] == "a.test=127.0.0.1,::1;b.test=10.0.0.1")
        #expect(changed["stageDeadlines"] == "decode=100.5,dns=250.0")
        #expect(changed["totalDeadline"] == "2.5")
    }

    @Test(arguments: [
        ("probesize", "16", "an integer in 32...2147483647"), ("fpsprobesize", "10001", "an integer in -1...10000"),
        ("skipStreamInfo", "maybe", "true or false"), ("totalDeadline", "3601", "seconds in (0, 3600]"),
        ("format", "no-such-demuxer", "a demuxer FFmpeg knows (ffmpeg -demuxers), auto, or empty to probe"),
        ("resolve", "a.test", "host=ip[,ip][;host=ip...]"),
        (
            "stageDeadlines", "dns=-1",
            "stage=ms[,stage=ms] with stages \(Stage.allCases.map(\.rawValue).joined(separator: "|")) and ms in (0, 3600000]"
        ),
        (
            "stageDeadlines", "streamInfo=1e30",
            "stage=ms[,stage=ms] with stages \(Stage.allCases.map(\.rawValue).joined(separator: "|")) and ms in (0, 3600000]"
        ),
        ("maxBufferBytes", "1", "an integer in 65536...2147483648"), ("maxRequests", "0", "an integer in 1...100000"),
        ("http_multiple", "2", "an integer in -1...1"),
        ("hlsSegmentProbesize", "31", "0 (FFmpeg's choice: probesize) or an integer in 32...2147483647"),
    ])
    func rejectionsSayWhatIsExpected(_ name: String, _ value: String, _ expected: String) {
        var knobs = TuningKnobs()
        #expect(throws: KnobError.invalid(knob: name, value: value, expected: expected)) { try knobs.set(name, value) }
        #expect(knobs == TuningKnobs(), "a rejected value changes nothing")
    }

    @Test func acceptedTextsAreUnchanged() throws {
        var knobs = TuningKnobs()
        try knobs.set("probesize", " 4096 ")
        try knobs.set("skipStreamInfo", "ON")
        try knobs.set("ipv4Only", "yes")
        try knobs.set("format", "auto")
        try knobs.set("prefetchHosts", " a.test, ,b.test ")
        try knobs.set("resolve", "a.test=127.0.0.1;a.test=::1")
        try knobs.set("totalDeadline", "3600")
        #expect(knobs.probesize == 4096 && knobs.skipStreamInfo && knobs.ipv4Only && knobs.format == "auto")
        #expect(knobs.prefetchHosts == ["a.test", "b.test"])
        #expect(knobs.resolve == ["a.test": ["127.0.0.1", "::1"]])
        #expect(knobs.totalDeadline == 3600)
        #expect(throws: KnobError.unknown(knob: "fastmode", known: TuningKnobs.names)) {
            try knobs.set("fastmode", "1")
        }
    }

    @Test(arguments: [
        ("fpsprobesize", "-2"), ("probesize", "16"), ("formatprobesize", "100"), ("decoderThreads", "x"),
        ("skipStreamInfo", "maybe"), ("minVideoFrames", "-1"), ("resolve", "a.test=not-an-ip"),
        ("stageDeadlines", "warp=5"), ("stageDeadlines", "dns=0"), ("totalDeadline", "0"),
        ("http_multiple", "-2"), ("hlsSegmentProbesize", "-1"), ("hlsSegmentProbesize", "1e9"),
    ])
    func invalidValuesNameTheKnob(_ name: String, _ value: String) {
        var knobs = TuningKnobs()
        #expect {
            try knobs.set(name, value)
        } throws: { error in
            guard case KnobError.invalid(let knob, let text, _) = error else { return false }
            return knob == name && text == value && "\(error)".contains(name)
        }
    }

    @Test func unknownKnobAndPresetAreRejected() {
        var knobs = TuningKnobs()
        #expect(throws: KnobError.self) { try knobs.set("fastmode", "1") }
        #expect(throws: KnobError.unknownPreset("turbo")) { try Preset(named: "turbo") }
    }

    @Test func validateCatchesValuesSetInCode() {
        var knobs = TuningKnobs()
        knobs.probesize = 1
        #expect(throws: KnobError.self) { try knobs.validate() }
        #expect(throws: Never.self) { try Preset.fieldReport.knobs.validate() }
    }

    @Test func presetsSayWhatTheyAre() {
        #expect(Preset.ffmpeg.knobs == TuningKnobs())
        #expect(Preset.ffmpeg.knobs.formatOptions.isEmpty, "stock: no options at all")
        #expect(Preset.fieldReport.knobs.fpsprobesize == 0)
        #expect(Preset.fieldReport.knobs.bufferCheckIntervalMs == 50)
        #expect(Preset.fieldReport.knobs.minVideoFrames == 5)
        #expect(Preset.ijkplayer.knobs.firstHighWaterMarkMs == 100)
        let instant = Preset.instant.knobs
        #expect(
            instant.skipStreamInfo && instant.decoderThreads == 1 && instant.ipv4Only && instant.decodeKeyframeAlone
        )
        // RTMP's exchange without Nagle or delayed-ACK waits; quickAck is the hooks', not an FFmpeg option.
        #expect(instant.tcpNoDelay && instant.quickAck)
        // HLS: no parallel fetch of the next segment, no codec probe holding the keyframe back (a segment
        // option, handed to the segment's demuxer through the HLS demuxer's dictionary option).
        #expect(instant.httpMultiple == 0 && instant.hlsSegmentProbesize == 4096)
        #expect(
            instant.formatOptions.map(\.key) == ["fpsprobesize", "tcp_nodelay", "http_multiple", "seg_format_options"]
        )
        #expect(instant.formatOptions.first { $0.key == "seg_format_options" }?.value == "probesize=4096")
        #expect(instant.formatOptions.first { $0.key == "http_multiple" }?.value == "0")
        #expect(instant.formatOptions.first { $0.key == "tcp_nodelay" }?.value == "1", "switches go to FFmpeg as 1/0")
        var quick = Preset.ffmpeg.knobs
        quick.quickAck = true
        #expect(quick.formatOptions.isEmpty)
        for preset in [Preset.ffmpeg, .ijkplayer, .fieldReport] {
            #expect(!preset.knobs.tcpNoDelay && !preset.knobs.quickAck, "\(preset): only instant changes the sockets")
            #expect(preset.knobs.connectPolicy == ConnectPolicy(), "\(preset): no spares, no hedges")
            #expect(preset.knobs.lookupHedgeMs == 0)
        }
        // Spares and hedges are the hooks' and the DNS cache's, not FFmpeg options.
        #expect(instant.spareConnections == 2 && instant.connectHedgeMs == 300 && instant.lookupHedgeMs == 300)
        #expect(instant.connectPolicy.hedgeAfter == .milliseconds(300))
    }

    @Test func knobsEncodeAsCamelCaseJSON() throws {
        var knobs = Preset.instant.knobs
        knobs.stageDeadlines = [.dns: 250]
        let json = String(decoding: try JSONEncoder().encode(knobs), as: UTF8.self)
        #expect(json.contains("\"skipStreamInfo\":true"))
        #expect(json.contains("\"quickAck\":true"))
        // A report written before the knob existed decodes with it off.
        #expect(try JSONDecoder().decode(TuningKnobs.self, from: Data("{\"tcpNoDelay\":true}".utf8)).quickAck == false)
        #expect(json.contains("\"stageDeadlines\":{\"dns\":250}"))
        #expect(try JSONDecoder().decode(TuningKnobs.self, from: Data(json.utf8)) == knobs)
    }
}
