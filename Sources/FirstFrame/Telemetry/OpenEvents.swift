extension StreamOpener {
    /// Starts opening `url` and tells what happens as it happens: the lookup, each connect attempt, TLS, the request
    /// and the response of every hop, then the probe, the streams, the first keyframe and the first picture (see
    /// ``OpenEvent`` for the list and what each event's time equals in the report).
    ///
    /// ```swift
    /// let opening = opener.openWithEvents("http://live.example.com/app/stream.flv")
    /// for await event in opening.events {          // finishes when the open ends
    ///     print(event)                             // "     12.3 ms hop 0 lookupFinished(…)"
    /// }
    /// let stream = try await opening.stream        // the OpenedStream, or the OpenError
    /// for await event in stream.events() { … }     // stalls and the end, from here on
    /// ```
    ///
    /// The open starts at once, whether or not anyone iterates the events: they are buffered (the newest
    /// `bufferingNewest`; older ones are dropped) and never hold the open up. The sequence finishes after the open's
    /// last event: the first picture (and first audio frame) of a success, or
    /// ``OpenEvent/Kind/openFailed(_:)``. The kept stream's events continue on
    /// ``OpenedStream/events(stallAfter:bufferingNewest:)``.
    public func openWithEvents(_ url: String, bufferingNewest limit: Int = 1024) -> OpenInProgress {
        let (events, continuation) = AsyncStream.makeStream(
            of: OpenEvent.self,
            bufferingPolicy: .bufferingNewest(max(1, limit))
        )
        let opener = self
        let task = Task { () async -> Result<OpenedStream, OpenError> in
            defer { continuation.finish() }
            do throws(OpenError) {
                return .success(try await opener.open(url, events: { continuation.yield($0) }))
            } catch {
                return .failure(error)
            }
        }
        return OpenInProgress(events: events, task: task)
    }

    /// Opens `url` up to its first decoded picture, telling `onEvent` what happens as it happens (see
    /// ``OpenEvent``): the same open as ``open(_:)``.
    ///
    /// `onEvent` is called on the open's own thread, in order, while FFmpeg waits: it must return at once (hand the
    /// event on, count it, log it without blocking). ``openWithEvents(_:bufferingNewest:)`` hands the events to an
    /// `AsyncSequence` instead.
    ///
    /// - Throws: ``OpenError`` with the failing stage and the partial report (``OpenEvent/Kind/openFailed(_:)`` was
    ///   the last event).
    public func open(
        _ url: String,
        onEvent: @escaping @Sendable (OpenEvent) -> Void
    ) async throws(OpenError) -> OpenedStream {
        try await open(url, events: onEvent)
    }
}

/// An open started by ``StreamOpener/openWithEvents(_:bufferingNewest:)``: its events as they happen, and the
/// stream (or the error) once it is over.
public struct OpenInProgress: Sendable {
    /// The open's events, in order, finishing when the open ends. One consumer.
    public let events: AsyncStream<OpenEvent>
    private let task: Task<Result<OpenedStream, OpenError>, Never>

    init(events: AsyncStream<OpenEvent>, task: Task<Result<OpenedStream, OpenError>, Never>) {
        self.events = events
        self.task = task
    }

    /// The opened stream, once the open is over. Cancelling the task that waits for it cancels the open.
    ///
    /// - Throws: ``OpenError`` with the failing stage and the partial report.
    public var stream: OpenedStream {
        get async throws(OpenError) {
            let task = task
            return try await withTaskCancellationHandler {
                await task.value
            } onCancel: {
                task.cancel()
            }.get()
        }
    }

    /// Cancels the open (it stops at FFmpeg's next poll; ``stream`` then throws the cancellation).
    public func cancel() {
        task.cancel()
    }
}
