import FirstFrame
import FirstFrameOrigin
import Foundation
import Testing

/// Starts an origin for one test and always shuts it down, whatever the test does.
@discardableResult
func withOrigin<T>(
    _ configuration: OriginConfiguration = OriginConfiguration(),
    _ body: (LiveOrigin) async throws -> T
) async throws -> T {
    try await LiveOrigin.serving(configuration, body)
}

/// Runs blocking client work on its own thread (never on the cooperative pool).
func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await DedicatedThread.run(name: "firstframe.tests.client", work)
}

/// Waits, polling, until `condition` holds or `timeout` seconds pass; returns whether it held.
/// For conditions on the origin's own clock (it is a live channel), not as a stand-in for synchronisation.
func eventually(timeout: Double, _ condition: () -> Bool) async throws -> Bool {
    let deadline = MonotonicClock.nanoseconds() + UInt64(timeout * 1e9)
    while MonotonicClock.nanoseconds() < deadline {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// The top-level suite: origin tests measure time on a two-core machine, so they run one at a time.
@Suite(.serialized) struct OriginTests {}

/// Prints a measured figure into the test log (CI keeps it), so a passing run still shows its numbers.
func report(_ line: String) {
    print("[measured] \(line)")
}
