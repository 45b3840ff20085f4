import Actors
import Domain
import Foundation
import Synchronization
import Testing

/// An unlock is applied once per process, whatever the clocks of the processes that recorded it.
@Suite struct AppliedUnlocksTests {
    @Test func eachUnlockOnceEvenBesideAnotherProcessesSkewedClock() async {
        let applied = AppliedUnlocks()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let older = LoginUnlock(email: "a@example.com", at: now.addingTimeInterval(-3_500))
        #expect(await applied.apply(older, now: now) { 2 } == (2, true))
        // Recorded by a process whose clock runs ten minutes fast: it evicts nothing still read back.
        let skewed = LoginUnlock(email: "b@example.com", at: now.addingTimeInterval(600))
        #expect(await applied.apply(skewed, now: now.addingTimeInterval(5)) { 1 } == (1, true))
        #expect(await applied.apply(older, now: now.addingTimeInterval(10)) { 9 } == (2, false), "the older one is still remembered")
        #expect(await applied.apply(skewed, now: now.addingTimeInterval(3_600)) { 9 } == (1, false))
    }

    /// An administrator's request and the watcher of recorded unlocks may present a new unlock at
    /// once: it is applied once, and both answer what that application cleared (the request once
    /// answered 0 addresses cleared when the watcher came first).
    @Test func callersAtOnceShareTheOneApplication() async {
        let applied = AppliedUnlocks()
        let unlock = LoginUnlock(email: "c@example.com", at: Date())
        let applications = Applications()
        let results = await withTaskGroup(of: (cleared: Int, first: Bool).self) { group in
            for _ in 0..<20 {
                group.addTask {
                    await applied.apply(unlock, now: Date()) {
                        applications.count.withLock { $0 += 1 }
                        try? await Task.sleep(for: .milliseconds(20))
                        return 3
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(applications.count.withLock { $0 } == 1)
        #expect(results.allSatisfy { $0.cleared == 3 }, "\(results)")
        #expect(results.filter(\.first).count == 1)
    }
}

private final class Applications: Sendable {
    let count = Mutex(0)
}
