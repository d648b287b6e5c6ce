import Dispatch
import Synchronization
import Testing

@testable import FirstFrameCore

@Suite struct InterrupterTests {
    @Test func noDeadlineNeverTimesOut() {
        let interrupter = Interrupter()
        #expect(interrupter.deadline == nil)
        #expect(!interrupter.shouldInterrupt)
    }

    @Test func aPastDeadlineInterrupts() {
        let interrupter = Interrupter(timeout: .zero)
        #expect(interrupter.hasTimedOut)
        #expect(interrupter.shouldInterrupt)
        #expect(!interrupter.isCancelled)
    }

    @Test func aFutureDeadlineDoesNotYet() throws {
        let before = MonotonicClock.nanoseconds()
        let interrupter = Interrupter(timeout: .seconds(60))
        let deadline = try #require(interrupter.deadline)
        #expect(deadline >= MonotonicInstant(nanoseconds: before) + .seconds(60))
        #expect(deadline <= .now + .seconds(60))
        #expect(!interrupter.shouldInterrupt)
    }

    @Test func cancelInterruptsAndIsToldApart() {
        let interrupter = Interrupter(timeout: .seconds(60))
        interrupter.cancel()
        #expect(interrupter.isCancelled && interrupter.shouldInterrupt && !interrupter.hasTimedOut)
    }

    @Test func stageDeadlineMovesAndClears() {
        let interrupter = Interrupter()
        interrupter.setStageDeadline(.now + .nanoseconds(-1))
        #expect(interrupter.stageDeadlinePassed && interrupter.shouldInterrupt)
        interrupter.setStageDeadline(nil)
        #expect(!interrupter.shouldInterrupt)
    }

    @Test func aLimitThatHeldKeepsHoldingAfterDisarm() {
        let calls = Atomic<Int>(0)
        let interrupter = Interrupter(timeout: .zero) {
            calls.add(1, ordering: .relaxed)
            return true
        }
        interrupter.disarm()  // the past deadline is gone; the limit no longer consulted
        #expect(!interrupter.shouldInterrupt)
        let limitCalls = calls.load(ordering: .relaxed)
        #expect(limitCalls == 0)

        let armed = Interrupter { true }
        #expect(armed.shouldInterrupt && armed.hasReachedLimit)
        armed.disarm()
        #expect(armed.shouldInterrupt)
    }
}

@Suite struct SlicedWaitTests {
    @Test func endsAtItsDeadline() {
        let semaphore = DispatchSemaphore(value: 0)
        let start = MonotonicClock.nanoseconds()
        let succeeded = SlicedWait.wait(
            until: start + 30_000_000,
            isCancelled: { false },
            { semaphore.wait(timeout: $0) }
        )
        let elapsed = MonotonicClock.nanoseconds() - start
        #expect(!succeeded)
        #expect(elapsed >= 30_000_000)
    }

    @Test func endsOnCancelBeforeTheDeadline() {
        let semaphore = DispatchSemaphore(value: 0)
        let polls = Atomic<Int>(0)
        let succeeded = SlicedWait.wait(
            until: MonotonicClock.nanoseconds() + 60_000_000_000,
            isCancelled: { polls.add(1, ordering: .relaxed).newValue > 3 },
            { semaphore.wait(timeout: $0) }
        )
        #expect(!succeeded)
        let pollCount = polls.load(ordering: .relaxed)
        #expect(pollCount == 4)
    }

    @Test func succeedsWhenTheEventCame() {
        let semaphore = DispatchSemaphore(value: 0)
        semaphore.signal()  // (a semaphore made with a count may not be freed below it)
        let succeeded = SlicedWait.wait(
            until: MonotonicClock.nanoseconds() + 1_000_000_000,
            isCancelled: { false },
            { semaphore.wait(timeout: $0) }
        )
        #expect(succeeded)
    }
}

@Suite struct MonotonicInstantTests {
    @Test func instantsSubtractToDurationsAndAdvanceByThem() {
        let start = MonotonicInstant(nanoseconds: 5_000_000_000)
        let later = start.advanced(by: .milliseconds(1500))
        #expect(later.nanoseconds == 6_500_000_000)
        #expect(start.duration(to: later) == .milliseconds(1500))
        #expect(later.duration(to: start) == .milliseconds(-1500))
        #expect(later.advanced(by: .milliseconds(-1500)) == start)
        #expect(later - start == .milliseconds(1500))
        #expect(start < later)
    }

    @Test func nowIsTheHooksClock() {
        let before = MonotonicClock.nanoseconds()
        let now = MonotonicInstant.now
        let after = MonotonicClock.nanoseconds()
        #expect(before <= now.nanoseconds && now.nanoseconds <= after)
    }

    @Test func durationsInMilliseconds() {
        #expect(Duration.microseconds(2500).milliseconds == 2.5)
        #expect(Duration.seconds(-1).milliseconds == -1000)
    }
}
