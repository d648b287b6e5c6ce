/// A recorder's state as it runs: for progress lines and telemetry.
public struct RecorderProgress: Sendable, Equatable {
    public enum State: String, Sendable {
        case opening, recording, waiting, stopped
    }

    public var state: State = .opening
    public var attempts = 0
    /// Attempts after the first one that opened (reconnects).
    public var reconnects = 0
    public var packetsWritten = 0
    /// Payload bytes written to files.
    public var bytesWritten: Int64 = 0
    public var mediaSeconds: Double = 0
    /// The last successful open's first picture, ms after its start.
    public var lastFirstPictureMs: Double?
    public var gaps = 0
    /// The last open failure or stream end, in a sentence.
    public var lastProblem: String?

    public init() {}
}

extension RecorderProgress.State: CustomStringConvertible {
    /// Its name (`recording`, …): what `print` and string interpolation show, instead of the qualified case.
    public var description: String { rawValue }
}
