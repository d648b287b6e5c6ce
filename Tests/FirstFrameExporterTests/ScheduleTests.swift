import FirstFrame
import FirstFrameExporter
import FirstFrameFFmpeg
import FirstFrameTestSupport
import Foundation
import Synchronization
import Testing

/// The schedule (``ProbeScheduler``) on the real clock, with targets that fail at once, and the slots that bound
/// how many opens run (``OpenSlots``).
@Suite struct ScheduleTests {
    init() { FFmpegLog.level = .quiet }

    /// Targets with an interval are probed on their own, every interval; a reload restarts the schedule with the
    /// new targets; cancelling the scheduler stops it.
    @Test func scheduledTargetsAreProbedAndAReloadRestartsTheSchedule() async throws {
        let refused = try ExporterFixture.refusedURL()
        let fixture = try ExporterFixture(
            config: ExporterFixture.config([("sched", refused, 1), ("manual", refused, nil)], jitter: 0)
        )
        defer { fixture.remove() }
        let exporter = fixture.exporter
        let scheduler = Task { await ProbeScheduler.run(exporter) }
        defer { scheduler.cancel() }

        func scheduled(_ name: String) -> Int {
            exporter.keptReports.filter { $0.target == name && $0.trigger == .schedule }.count
        }
        // The first probe falls within the first interval, the next one an interval after it was due.
        #expect(try await eventually(timeout: 5) { scheduled("sched") >= 2 }, "\(scheduled("sched")) probes")
        #expect(scheduled("manual") == 0, "a target without interval is probed only on request")
        let metrics = try await fixture.metrics()
        #expect(
            (metrics.value("firstframe_exporter_probes_total", ["target": "sched", "trigger": "schedule"]) ?? 0) >= 2
        )
        #expect(metrics.value("firstframe_target_last_success", ["target": "sched", "region": "test"]) == 0)
        #expect(metrics.types["firstframe_exporter_schedule_delay_seconds"] == "histogram")

        try fixture.rewrite(ExporterFixture.config([("sched2", refused, 1)], jitter: 0))
        try exporter.reload()
        #expect(try await eventually(timeout: 5) { scheduled("sched2") >= 1 })
        // The new schedule starts once the old one has ended: sched is probed no more.
        let before = scheduled("sched")
        try await Task.sleep(for: .milliseconds(1500))
        #expect(scheduled("sched") == before)
        #expect(scheduled("sched2") >= 2)

        scheduler.cancel()
        await scheduler.value
        let stopped = exporter.keptReports.count
        try await Task.sleep(for: .milliseconds(1200))
        #expect(exporter.keptReports.count == stopped, "probes after the scheduler was cancelled")
    }

    @Test func slotsAreTakenUpToTheLimit() {
        let slots = OpenSlots(limit: 2)
        #expect(slots.tryAcquire() && slots.tryAcquire())
        #expect(!slots.tryAcquire())
        #expect(slots.inUse == 2)
        slots.release()
        #expect(slots.inUse == 1)
        #expect(slots.tryAcquire())
    }

    /// A waiter gets the slot a release gives back; a waiter that is cancelled leaves the queue and takes nothing.
    @Test func waitersGetReleasedSlotsAndCancelledOnesLeave() async throws {
        let slots = OpenSlots(limit: 1)
        #expect(slots.tryAcquire())
        let acquired = Atomic<Bool>(false)
        let waiter = Task {
            try await slots.acquire()
            acquired.store(true, ordering: .sequentiallyConsistent)
        }
        try await Task.sleep(for: .milliseconds(50))
        let early = acquired.load(ordering: .sequentiallyConsistent)
        #expect(!early, "a slot was handed out beyond the limit")
        slots.release()
        try await waiter.value
        let late = acquired.load(ordering: .sequentiallyConsistent)
        #expect(late && slots.inUse == 1)

        let cancelled = Task { try await slots.acquire() }
        try await Task.sleep(for: .milliseconds(50))
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        slots.release()
        #expect(slots.inUse == 0, "the cancelled waiter took the slot")
        #expect(slots.tryAcquire())
    }

    /// A task cancelled before it waits for a slot leaves at once, and takes none when one comes free.
    @Test func aCancelledTaskDoesNotWaitForASlot() async throws {
        let slots = OpenSlots(limit: 1)
        #expect(slots.tryAcquire())
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await slots.acquire()
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        slots.release()
        #expect(slots.inUse == 0)
    }
}
