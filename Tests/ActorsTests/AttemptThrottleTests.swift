import Actors
import Domain
import Foundation
import TestSupport
import Testing

@Suite struct AttemptThrottleTests {
    @Test("a key is held back at its limit until the window that began with its first attempt is over")
    func holdsAKeyForItsWindow() async {
        let clock = ManualClock()
        let throttle = AttemptThrottle(limit: 2, window: 60, clock: clock.wallClock)
        await throttle.record("a")
        clock.advance(30)
        #expect(await throttle.admit("a") == nil, "the second attempt may go")
        let first = await throttle.admit("a")
        #expect(first?.retryAfter == 30 && first?.count == 1)
        let second = await throttle.refusal("a")
        #expect(second?.retryAfter == 30 && second?.count == 2, "each refusal counted")
        #expect(await throttle.retryAfter("b") == nil, "another key has its own count")
        clock.advance(30)
        #expect(await throttle.retryAfter("a") == nil)
        #expect(await throttle.attempts("a") == 0)
    }

    @Test("past the capacity, a flood of fresh keys does not free a held-back key: they take each other's places")
    func aFloodDoesNotFreeAHeldKey() async {
        let clock = ManualClock()
        let throttle = AttemptThrottle(limit: 3, window: 900, capacity: 4, clock: clock.wallClock)
        for _ in 0..<3 { await throttle.record("guessed") }
        #expect(await throttle.retryAfter("guessed") == 900)
        for index in 0..<1_000 {
            if index.isMultiple(of: 10) { clock.advance(1) }
            await throttle.record("fresh-\(index)")
        }
        #expect(await throttle.retryAfter("guessed") == 800, "still held back, its window unchanged")
        #expect(await throttle.attempts("fresh-999") == 1, "the newest key is counted")
        #expect(await throttle.attempts("fresh-995") == 0, "older fresh keys made room for newer ones")
    }

    @Test("windows that are over make room first; only when every window holds its key back does the oldest hold go")
    func makesRoomInOrder() async {
        let clock = ManualClock()
        let throttle = AttemptThrottle(limit: 2, window: 60, capacity: 3, clock: clock.wallClock)
        await throttle.record("early")
        clock.advance(10)
        for key in ["held-1", "held-2"] {
            await throttle.record(key)
            await throttle.record(key)
        }
        clock.advance(55)  // "early"'s window is over, the holds' are not
        await throttle.record("counting")
        #expect(await throttle.retryAfter("held-1") != nil)
        #expect(await throttle.retryAfter("held-2") != nil)
        #expect(await throttle.attempts("counting") == 1)
        // Full of two holds and one counting key: a new key takes the counting key's place…
        await throttle.record("newer")
        #expect(await throttle.attempts("counting") == 0)
        #expect(await throttle.retryAfter("held-1") != nil)
        #expect(await throttle.retryAfter("held-2") != nil)
        // …and once every window holds its key back, the one that has held longest goes.
        await throttle.record("newer")
        await throttle.record("newest")
        #expect(await throttle.retryAfter("held-1") == nil, "the longest hold made room")
        #expect(await throttle.retryAfter("held-2") != nil)
        #expect(await throttle.retryAfter("newer") != nil)
        #expect(await throttle.attempts("newest") == 1)
    }

    @Test("a key reset and counted again is a new window: its earlier place in line is not taken for it")
    func aKeyCountedAgainIsANewWindow() async {
        let clock = ManualClock()
        let throttle = AttemptThrottle(limit: 2, window: 60, capacity: 2, clock: clock.wallClock)
        await throttle.record("k")
        await throttle.reset("k")
        clock.advance(1)
        await throttle.record("old")
        clock.advance(61)  // "old"'s window is over
        await throttle.record("k")
        await throttle.record("new")
        #expect(await throttle.attempts("k") == 1, "the window that was over made room, not k's new one")
        #expect(await throttle.attempts("new") == 1)
    }
}
