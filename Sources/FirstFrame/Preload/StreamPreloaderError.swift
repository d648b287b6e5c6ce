/// What a ``StreamPreloader`` refuses.
public enum StreamPreloaderError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A budget out of range (the message names it and its range).
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let message): "invalid preloader configuration: \(message)"
        }
    }
}
