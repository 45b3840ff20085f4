import Actors
import Domain
import Foundation
import Testing

/// An unlock is applied once per process, whatever the clocks of the processes that recorded it.
@Suite struct AppliedUnlocksTests {
    @Test func eachUnlockOnceEvenBesideAnotherProcessesSkewedClock() async {
        let applied = AppliedUnlocks()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let older = LoginUnlock(email: "a@example.com", at: now.addingTimeInterval(-3_500))
        #expect(await applied.firstTime(older, now: now))
        // Recorded by a process whose clock runs ten minutes fast: it evicts nothing still read back.
        let skewed = LoginUnlock(email: "b@example.com", at: now.addingTimeInterval(600))
        #expect(await applied.firstTime(skewed, now: now.addingTimeInterval(5)))
        #expect(await !applied.firstTime(older, now: now.addingTimeInterval(10)), "the older one is still remembered")
        #expect(await !applied.firstTime(skewed, now: now.addingTimeInterval(3_600)))
    }
}
