import Actors
import Domain
import Foundation
import Synchronization
import Testing

@Suite struct ExpirySchedulerTests {
    /// Collects fired keys with the time they fired.
    final class Fired: Sendable {
        let keys = Mutex<[(DeadlineKey, Date)]>([])
        var order: [DeadlineKey] { keys.withLock { $0.map(\.0) } }
    }

    func running(_ body: (ExpiryScheduler, Fired) async throws -> Void) async throws {
        let scheduler = ExpiryScheduler()
        let fired = Fired()
        let (stream, continuation) = AsyncStream.makeStream(of: DeadlineKey.self)
        let loop = Task { await scheduler.run(firing: continuation) }
        let consumer = Task { for await key in stream { fired.keys.withLock { $0.append((key, Date())) } } }
        try await body(scheduler, fired)
        loop.cancel()
        await loop.value
        await consumer.value
    }

    @Test("fires in deadline order whatever the arming order; an earlier deadline wakes the sleeping loop")
    func order() async throws {
        try await running { scheduler, fired in
            let now = Date()
            await scheduler.arm(.demoExpiry(demoID: "late"), at: now + 3)
            try await Task.sleep(for: .milliseconds(50))  // the loop now sleeps until "late"
            await scheduler.arm(.demoExpiry(demoID: "early"), at: now + 0.3)
            await scheduler.arm(.demoExpiry(demoID: "middle"), at: now + 0.6)
            await scheduler.arm(.sessionIdle(sessionID: "overdue"), at: now - 5)
            // Timing is checked loosely (the suite shares two cores); order exactly.
            let early = try await eventually(within: 10) { fired.order.count >= 3 }
            #expect(early)
            let firedEarly = try #require(fired.keys.withLock { $0.first { $0.0 == .demoExpiry(demoID: "early") }?.1 })
            #expect(firedEarly < now + 2.5, "woken for the earlier deadline, not at the later one")
            let all = try await eventually(within: 10) { fired.order.count == 4 }
            #expect(all)
            #expect(fired.order == [.sessionIdle(sessionID: "overdue"), .demoExpiry(demoID: "early"),
                                    .demoExpiry(demoID: "middle"), .demoExpiry(demoID: "late")])
            #expect(await scheduler.count == 0, "fired keys are forgotten")
        }
    }

    @Test("re-arming moves a key, disarming drops it; each armed key fires once")
    func moveAndDrop() async throws {
        try await running { scheduler, fired in
            let now = Date()
            await scheduler.arm(.sessionLifetime(sessionID: "moved"), at: now + 0.2)
            await scheduler.arm(.sessionLifetime(sessionID: "moved"), at: now + 1.5)
            await scheduler.arm(.sessionLifetime(sessionID: "dropped"), at: now + 0.4)
            await scheduler.disarm(.sessionLifetime(sessionID: "dropped"))
            #expect(await scheduler.due(.sessionLifetime(sessionID: "moved")) == now + 1.5)
            try await Task.sleep(for: .milliseconds(1_000))
            #expect(fired.order.isEmpty, "neither the old time of the moved key nor the dropped key fired")
            let moved = try await eventually(within: 10) { !fired.order.isEmpty }
            #expect(moved)
            try await Task.sleep(for: .milliseconds(300))
            #expect(fired.order == [.sessionLifetime(sessionID: "moved")])
        }
    }

    @Test("many re-arms of the same keys do not grow the queue without bound")
    func compaction() async throws {
        try await running { scheduler, _ in
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
