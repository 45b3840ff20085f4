import Actors
import Testing

/// `UnchangingValues`: the kept values of the keys used last, never more than its capacity.
@Suite struct UnchangingValuesTests {
    @Test("gives what it keeps, and nothing for keys it never kept")
    func keeps() async {
        let values = UnchangingValues<Int, String>(capacity: 10)
        await values.keep([1: "one", 2: "two"])
        #expect(await values.values(for: [2, 3, 1, 2]) == ["two", nil, "one", "two"])
        #expect(await values.values(for: []).isEmpty)
    }

    @Test("holds at most its capacity, however many keys pass through")
    func bounded() async {
        let values = UnchangingValues<Int, Int>(capacity: 100)
        for key in 0..<10_000 {
            await values.keep([key: key])
            #expect(await values.count <= 100)
        }
        #expect(await values.values(for: Array(9_950..<10_000)) == Array(9_950..<10_000), "the newest half at least")
        #expect(await values.values(for: Array(0..<9_000)).allSatisfy { $0 == nil }, "the oldest gone")
    }

    @Test("a key asked for stays while keys used once pass through")
    func keepsWhatIsUsed() async {
        let values = UnchangingValues<Int, Int>(capacity: 20)
        await values.keep([-1: -1])
        for key in 0..<1_000 {
            await values.keep([key: key])
            #expect(await values.values(for: [-1]) == [-1], "after \(key)")
        }
    }
}
