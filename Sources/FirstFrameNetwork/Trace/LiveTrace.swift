import CNetworkHooks
import FirstFrameCore

/// One capture's trace while it is recorded, read as it grows: a ``TraceCursor`` decodes the events the hooks
/// recorded since the last read, once each, and hands them one at a time to a ``TraceInterpreter``. Whoever needs
/// the trace during the capture (an opener's stage deadlines and segment watch at every FFmpeg poll, the stage of
/// FFmpeg's log lines, an open's listener) asks it: a question costs the events recorded since the last one, not
/// the trace. When the capture ends, the rest is read and the interpreter's hops are the ``NetworkTrace``'s, with
/// no second reading.
///
/// Give it to ``NetworkTrace/capture(captureBytesPerTurn:quickAck:live:observer:_:)``. Its questions are answered
/// from the trace on the capturing thread only (whose trace it reads): elsewhere, or while a capture nested
/// inside it runs (whose events reach it when that capture ends), they see the events read so far.
package final class LiveTrace: Sendable {
    private struct State {
        var cursor: TraceCursor?
        var start: UInt64 = 0
        /// Every event read, in order: the interpreter's event indices point here.
        var events: [NetworkEvent] = []
        var interpreter: TraceInterpreter
        /// C events decoded over the capture (each once).
        var decoded = 0
        /// The last answer of ``failedSegment()``, and how many events had been applied when it was worked out.
        var segmentCheck: (events: Int, failed: NetworkHop?) = (-1, nil)
    }

    private let state: Locked<State>

    /// - Parameter reportsHopEvents: keep what the hops do for ``takeHopEvents()`` (an open's listener).
    package init(reportsHopEvents: Bool = false) {
        state = Locked(State(interpreter: TraceInterpreter(reportsHopEvents: reportsHopEvents)))
    }

    // MARK: The capture

    /// The capture began `trace` on this thread.
    func begin(_ trace: OpaquePointer) {
        state.withLock { state in
            state.cursor = TraceCursor(trace)
            state.start = cnh_trace_start_ns(trace)
        }
    }

    /// The capture ended its trace (still allocated) at `end`: the events not read yet, then the whole trace.
    func end(at end: UInt64, droppedEvents: Int) -> NetworkTrace {
        state.withLock { state in
            Self.read(&state)
            state.cursor = nil
            return NetworkTrace(
                start: state.start,
                end: end,
                events: state.events,
                droppedEvents: droppedEvents,
                interpreter: state.interpreter
            )
        }
    }

    /// Reads the events recorded since the last read, if this is the thread recording them.
    private static func catchUp(_ state: inout State) {
        guard let cursor = state.cursor, cnh_trace_current() == cursor.trace else { return }
        read(&state)
    }

    private static func read(_ state: inout State) {
        guard var cursor = state.cursor else { return }
        let first = state.events.count
        let decoded = cursor.read(into: &state.events)
        state.cursor = cursor
        guard decoded > 0 else { return }
        state.decoded += decoded
        for index in first..<state.events.count { state.interpreter.apply(state.events[index]) }
    }

    // MARK: Questions during the capture

    /// Reads what was recorded since the last question; returns how many C events that decoded.
    @discardableResult
    package func catchUp() -> Int {
        state.withLock { state in
            let before = state.decoded
            Self.catchUp(&state)
            return state.decoded - before
        }
    }

    /// Whether the calling thread is the one recording the trace, in the capture (no capture nested inside it
    /// running): where the questions below see the trace as it is now.
    package var isReading: Bool {
        state.withLock { state in state.cursor.map { cnh_trace_current() == $0.trace } ?? false }
    }

    /// C events decoded so far (each is decoded once, whoever asks and however often).
    package var decodedEvents: Int { state.withLock { $0.decoded } }

    /// The hops so far, without their HLS roles (those need the whole playlist reading: ``traceSoFar(at:)``).
    package func hops() -> [NetworkHop] {
        state.withLock { state in
            Self.catchUp(&state)
            return state.interpreter.hops
        }
    }

    /// The events so far.
    package func events() -> [NetworkEvent] {
        state.withLock { state in
            Self.catchUp(&state)
            return state.events
        }
    }

    /// The trace so far, as it would be if it ended at `end`: hops with their roles, playlists, response reads.
    package func traceSoFar(at end: UInt64) -> NetworkTrace {
        state.withLock { state in
            Self.catchUp(&state)
            return NetworkTrace(
                start: state.start,
                end: end,
                events: state.events,
                interpreter: state.interpreter
            )
        }
    }

    /// The last hop (by index) that fetched an HLS segment and got an HTTP error (400 or more), if any. Roles
    /// come from the playlists read so far; they are worked out only once some response has failed, and again
    /// only when events have come since.
    package func failedSegment() -> NetworkHop? {
        state.withLock { state in
            Self.catchUp(&state)
            guard !state.interpreter.failedResponses.isEmpty else { return nil }
            if state.segmentCheck.events != state.interpreter.eventCount {
                state.segmentCheck = (
                    state.interpreter.eventCount, state.interpreter.failedSegment(events: state.events)
                )
            }
            return state.segmentCheck.failed
        }
    }

    // MARK: Hop events

    /// What the hops did since the last call (``HopEvent``), in order; nothing unless made with
    /// `reportsHopEvents`, and nothing after ``finishHopEvents()``.
    package func takeHopEvents() -> [HopEvent] {
        state.withLock { state in
            Self.catchUp(&state)
            return state.interpreter.takeHopEvents()
        }
    }

    /// The last of the hop events, before the capture ends: what is left, then a status-less `responseStarted`
    /// for each response whose head never completed on a connection still open. Hop events stop here.
    package func finishHopEvents() -> [HopEvent] {
        state.withLock { state in
            Self.catchUp(&state)
            guard state.interpreter.reportsHopEvents else { return [] }
            let events = state.interpreter.takeHopEvents() + state.interpreter.unfinishedResponses()
            state.interpreter.stopReportingHopEvents()
            return events
        }
    }
}
