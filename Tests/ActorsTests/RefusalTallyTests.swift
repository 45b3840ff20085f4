import Actors
import Domain
import Foundation
import TestSupport
import Testing

@Suite struct RefusalTallyTests {
    @Test("the first refusal of a window is written at once, the rest counted and handed over once it is over")
    func foldsAWindow() async throws {
        let clock = ManualClock()
        let tally = RefusalTally<String>(window: 60, capacity: 10, clock: clock.wallClock)
        #expect(await tally.note("a", overflowKey: "p", sample: "a1"))
        #expect(await !tally.note("a", overflowKey: "p", sample: "a2"))
        clock.advance(30)
        #expect(await !tally.note("a", overflowKey: "p", sample: "a3"))
        #expect(await tally.note("b", overflowKey: "p", sample: "b1"), "another key opens its own window")
        #expect(await tally.drain().isEmpty, "nothing is over yet")

        clock.advance(31)
        let folded = await tally.drain()
        #expect(folded.count == 1)
        let a = try #require(folded.first)
        #expect(a.key == "a" && a.count == 2 && a.sample == "a3" && !a.severalCallers)
        #expect(a.first == clock.now.addingTimeInterval(-61) && a.last == clock.now.addingTimeInterval(-31))
        #expect(await tally.drain().isEmpty, "handed over once; b had nothing to count")

        #expect(await tally.note("a", overflowKey: "p", sample: "a4"), "a new window")
        #expect(await !tally.note("a", overflowKey: "p", sample: "a5"))
        // A window over but not drained yet: its count is kept when the key opens the next.
        clock.advance(61)
        #expect(await tally.note("a", overflowKey: "p", sample: "a6"))
        #expect(await tally.drain().map(\.count) == [1])
    }

    @Test("past the capacity, new callers' refusals are counted together; nothing is lost, memory stays bounded")
    func overflows() async {
        let clock = ManualClock()
        let tally = RefusalTally<String>(window: 60, capacity: 2, clock: clock.wallClock)
        #expect(await tally.note("a", overflowKey: "p", sample: "a"))
        #expect(await tally.note("b", overflowKey: "p", sample: "b"))
        for caller in ["c", "d", "e"] {
            #expect(await !tally.note(caller, overflowKey: "p", sample: caller), "past the capacity: counted, not written")
        }
        #expect(await !tally.note("f", overflowKey: "q", sample: "f"))
        clock.advance(60)
        let folded = await tally.drain().sorted { $0.key < $1.key }
        #expect(folded.map(\.key) == ["p", "q"] && folded.map(\.count) == [3, 1] && folded.allSatisfy(\.severalCallers))
        // Room again once the windows are over.
        #expect(await tally.note("c", overflowKey: "p", sample: "c"))
    }

    @Test("what could not be written comes back; at shutdown every open window is handed over")
    func restoresAndDrainsEverything() async {
        let clock = ManualClock()
        let tally = RefusalTally<String>(window: 60, capacity: 10, clock: clock.wallClock)
        #expect(await tally.note("a", overflowKey: "p", sample: "a1"))
        #expect(await !tally.note("a", overflowKey: "p", sample: "a2"))
        let open = await tally.drain(everything: true)
        #expect(open.map(\.count) == [1])
        await tally.restore(open)
        #expect(await tally.drain().map(\.count) == [1], "restored")
        #expect(await tally.drain(everything: true).isEmpty)
    }
}
