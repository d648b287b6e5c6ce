/// What a recorder did, when it stopped.
public struct RecordingSummary: Sendable, Codable, Equatable {
    public enum Outcome: String, Sendable, Codable {
        /// Stopped by ``Recorder/stop()`` or task cancellation.
        case stopped
        /// `maxAttempts` opens in a row failed.
        case attemptsExhausted
        /// The file could not be written.
        case writeFailed
        /// The input ended cleanly and the recorder was asked to stop there (`stopAtEndOfInput`).
        case inputEnded
    }

    public var outcome: Outcome
    /// Why the recording ended when the outcome is not ``Outcome/stopped``: the last error (an open's, or the
    /// muxer's), or the input's end. Always nil for ``Outcome/stopped``, whatever failed before the stop (every
    /// failed open is in the session log).
    public var message: String?
    /// Opens tried, and how many reached a first picture.
    public var attempts: Int
    public var successfulOpens: Int
    /// Every file written, in order.
    public var files: [String]
    public var gaps: [RecordingGap]
    public var packetsWritten: Int
    public var bytesWritten: Int64
    public var duplicatesDropped: Int
    /// The file time of the last packet, seconds.
    public var mediaSeconds: Double
    public var wallSeconds: Double
}

extension RecordingSummary.Outcome: CustomStringConvertible {
    /// Its name (`stopped`, …): what `print` and string interpolation show, instead of the qualified case.
    public var description: String { rawValue }
}
