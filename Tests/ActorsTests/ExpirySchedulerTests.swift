import Actors
import Domain
import Foundation
import Synchronization
import TestSupport
import Testing

/// The scheduler on a clock the test moves: what fires, in what order, and when (in clock
/// time) is exact whatever the machine's load. One test on the real clock checks that a
/// deadline fires after it is due, never before, within a bound only a broken scheduler misses.
@Suite struct ExpirySchedulerTests {
    /// Collects fired keys with the clock's time when each reached the consumer.
    final class Fired: Sendable {
        let keys = Mutex<[(DeadlineKey, Date)]>([])
        var order: [DeadlineKey] { keys.withLock { $0.map(\.0) } }
        func time(of key: DeadlineKey) -> Date? { keys.withLock { $0.first { $0.0 == key }?.1 } }
    }

    func running(
        on clock: WallClock, _ body: (ExpiryScheduler, Fired) async throws -> Void
    ) async throws {
        let scheduler = ExpiryScheduler(clock: clock)
        let fired = Fired()
        let (stream, continuation) = AsyncStream.makeStream(of: DeadlineKey.self)
        let loop = Task { await scheduler.run(firing: continuation) }
        let consumer = Task { for await key in stream { fired.keys.withLock { $0.append((key, clock.now())) } } }
        defer {
            loop.cancel()
            consumer.cancel()
        }
        try await body(scheduler, fired)
        loop.cancel()
        await loop.value
        await consumer.value
    }

    /// Waits until the scheduler's loop sleeps on `clock` until `deadline`: everything due
    /// before it has been handed on.
    func asleep(_ clock: ManualClock, until deadline: Date) async throws {
        let sleeping = try await eventually { clock.sleepingUntil == [deadline] }
        try #require(sleeping, "the loop sleeps until \(deadline), not \(clock.sleepingUntil)")
    }

    @Test("fires in deadline order whatever the arming order; an earlier deadline wakes the sleeping loop")
    func order() async throws {
        let clock = ManualClock()
        let start = clock.now
        try await running(on: clock.wallClock) { scheduler, fired in
            await scheduler.arm(.demoExpiry(demoID: "late"), at: start + 3)
            try await asleep(clock, until: start + 3)
            await scheduler.arm(.demoExpiry(demoID: "early"), at: start + 0.3)
            await scheduler.arm(.demoExpiry(demoID: "middle"), at: start + 0.6)
            await scheduler.arm(.sessionIdle(sessionID: "overdue"), at: start - 5)

            #expect(try await eventually { fired.order == [.sessionIdle(sessionID: "overdue")] }, "overdue: at once")
            try await asleep(clock, until: start + 0.3)

            clock.advance(to: start + 0.3)
            #expect(try await eventually { fired.order.count == 2 })
            try await asleep(clock, until: start + 0.6)
            #expect(fired.time(of: .demoExpiry(demoID: "early")) == start + 0.3, "woken for the earlier deadline, not the later one")
            #expect(await scheduler.due(.demoExpiry(demoID: "middle")) == start + 0.6, "not yet due, still armed")

            clock.advance(to: start + 1)
            #expect(try await eventually { fired.order.count == 3 })
            try await asleep(clock, until: start + 3)
            #expect(await scheduler.due(.demoExpiry(demoID: "late")) == start + 3)

            clock.advance(to: start + 3)
            #expect(try await eventually { fired.order.count == 4 })
            #expect(
                fired.order == [
                    .sessionIdle(sessionID: "overdue"), .demoExpiry(demoID: "early"),
                    .demoExpiry(demoID: "middle"), .demoExpiry(demoID: "late"),
                ])
            #expect(fired.time(of: .demoExpiry(demoID: "late")) == start + 3)
            #expect(await scheduler.count == 0, "fired keys are forgotten")
        }
    }

    @Test("re-arming moves a key, disarming drops it; each armed key fires once")
    func moveAndDrop() async throws {
        let clock = ManualClock()
        let start = clock.now
        try await running(on: clock.wallClock) { scheduler, fired in
            await scheduler.arm(.sessionLifetime(sessionID: "moved"), at: start + 0.2)
            await scheduler.arm(.sessionLifetime(sessionID: "moved"), at: start + 1.5)
            await scheduler.arm(.sessionLifetime(sessionID: "dropped"), at: start + 0.4)
            await scheduler.disarm(.sessionLifetime(sessionID: "dropped"))
            #expect(await scheduler.due(.sessionLifetime(sessionID: "moved")) == start + 1.5)

            // Past the moved key's old time and the dropped key's: the stale entries wake the
            // loop, which hands on nothing and sleeps again until the moved key's new time.
            clock.advance(to: start + 1)
            try await asleep(clock, until: start + 1.5)
            #expect(fired.order.isEmpty, "neither the old time of the moved key nor the dropped key fired")
            #expect(await scheduler.count == 1)

            clock.advance(to: start + 1.5)
            #expect(try await eventually { !fired.order.isEmpty })
            try await asleep(clock, until: start + 1.5 + 3_600)
            clock.advance(to: start + 10)
            #expect(fired.order == [.sessionLifetime(sessionID: "moved")], "fired once, at its new time")
            #expect(fired.time(of: .sessionLifetime(sessionID: "moved")) == start + 1.5)
        }
    }

    @Test("on the real clock, a deadline fires after it is due, never before")
    func realClock() async throws {
        try await running(on: .system) { scheduler, fired in
            let due = Date() + 0.2
            await scheduler.arm(.demoExpiry(demoID: "real"), at: due)
            #expect(try await eventually { !fired.order.isEmpty }, "fired at all")
            let firedAt = try #require(fired.time(of: .demoExpiry(demoID: "real")))
            #expect(firedAt >= due, "never early")
            // A working scheduler fires within milliseconds; the bound is loose enough for two
            // starved cores and tight enough to catch one that waits for the next hourly wake.
            #expect(firedAt.timeIntervalSince(due) < 60)
        }
    }

    @Test("many re-arms of the same keys do not grow the queue without bound")
    func compaction() async throws {
        try await running(on: ManualClock().wallClock) { scheduler, _ in
            let later = Date() + 3_600
            for round in 0..<20 {
                await scheduler.arm((0..<500).map { (.sessionIdle(sessionID: "s\($0)"), later + Double(round)) })
                for index in 0..<500 { await scheduler.arm(.sessionIdle(sessionID: "s\(index)"), at: later + Double(round) + 0.5) }
            }
            #expect(await scheduler.count == 500)
            #expect(await scheduler.queued <= 2 * 1_024, "stale entries are compacted away")

            // A rescan that finds the same deadlines adds nothing.
            let same = (0..<500).map { (DeadlineKey.sessionIdle(sessionID: "s\($0)"), later + 19.5) }
            let before = await scheduler.queued
            for _ in 0..<10 { await scheduler.arm(same) }
            #expect(await scheduler.queued == before)
        }
    }
}
