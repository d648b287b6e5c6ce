extension Recorder {
    /// How a recording is made: everything but the stream, the file, the logger and the telemetry.
    ///
    /// A value: build it, change what you need, and hand it to ``Recorder/init(url:path:configuration:logger:telemetry:)``,
    /// which calls ``validate()``. The defaults record one file with the `instant` preset, reconnecting with
    /// ``ReconnectPolicy/standard``.
    ///
    /// ```swift
    /// var configuration = Recorder.Configuration()
    /// configuration.segmentSeconds = 600
    /// configuration.reconnect = try ReconnectPolicy(maxAttempts: 20)
    /// let recorder = try Recorder(url: url, path: "/var/rec/room.flv", configuration: configuration)
    /// ```
    public struct Configuration: Sendable {
        /// Split the recording at keyframes into files of about this many seconds (``Recorder/segmentSecondsRange``);
        /// nil for one file.
        public var segmentSeconds: Double?
        /// The opener's knobs; `totalDeadline` bounds each open, `readTimeoutMs` each read after it.
        public var knobs: TuningKnobs
        /// When to open again after a drop or a failed open, and when to give up.
        public var reconnect: ReconnectPolicy
        /// Once a connection's byte rate is known (after 2 s), its reads wake the thread only when this many seconds
        /// of bytes have arrived (``OpenedStream/batchReads(bytes:)``): half the CPU of a recorder of many channels.
        /// When the server stalls, up to this much media before the stall stays unread (it falls in the recorded
        /// gap). 0 reads every tag as it comes. In ``Recorder/readBatchSecondsRange``.
        public var readBatchSeconds: Double
        /// End the recording when the input ends cleanly (a file, an ended HLS event, a channel that ended) instead
        /// of opening it again; a live edge that closes at a tag boundary ends cleanly too, so leave it off for live
        /// channels.
        public var stopAtEndOfInput: Bool
        /// Where the JSON Lines session log goes; nil puts it next to the recording (`path.session.jsonl`).
        public var sessionLogPath: String?
        /// A name for the recording's metrics (their `channel` label); nil leaves the label out. Never the URL.
        public var channel: String?

        /// The defaults: one file, `instant`, ``ReconnectPolicy/standard``, 0.2 s read batches.
        public init(
            segmentSeconds: Double? = nil,
            knobs: TuningKnobs = Preset.instant.knobs,
            reconnect: ReconnectPolicy = .standard,
            readBatchSeconds: Double = 0.2,
            stopAtEndOfInput: Bool = false,
            sessionLogPath: String? = nil,
            channel: String? = nil
        ) {
            self.segmentSeconds = segmentSeconds
            self.knobs = knobs
            self.reconnect = reconnect
            self.readBatchSeconds = readBatchSeconds
            self.stopAtEndOfInput = stopAtEndOfInput
            self.sessionLogPath = sessionLogPath
            self.channel = channel
        }

        /// Checks every number: `segmentSeconds` and `readBatchSeconds` finite and in their ranges, and the
        /// reconnect policy's.
        /// - Throws: ``RecorderParameterError`` naming the first number that is not.
        public func validate() throws(RecorderParameterError) {
            if let segmentSeconds {
                try RecorderParameterError.check(
                    segmentSeconds,
                    "segmentSeconds",
                    in: Recorder.segmentSecondsRange,
                    unit: "seconds"
                )
            }
            try RecorderParameterError.check(
                readBatchSeconds,
                "readBatchSeconds",
                in: Recorder.readBatchSecondsRange,
                unit: "seconds"
            )
            try reconnect.validate()
        }
    }
}
