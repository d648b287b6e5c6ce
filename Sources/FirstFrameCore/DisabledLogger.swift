import Logging

extension Logger {
    /// A logger that discards everything: what a FirstFrame type logs to when its caller passes no logger.
    ///
    /// A library never decides where logs go (swift-log's etiquette, as AsyncHTTPClient's `loggingDisabled`): an
    /// application that wants a recorder's or an opener's lines passes its own `Logger`, with its own label and
    /// level.
    @usableFromInline package static let disabled = Logger(
        label: "FirstFrame",
        factory: { _ in SwiftLogNoOpLogHandler() }
    )
}
