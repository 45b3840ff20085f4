import Actors
import Domain
import Foundation
import Synchronization
import Testing

@Suite struct RefreshingCacheTests {
    final class Clock: Sendable {
        let now = Mutex(Date(timeIntervalSince1970: 1_000))
        var wallClock: WallClock { WallClock { self.now.withLock { $0 } } }
        func advance(_ seconds: TimeInterval) { now.withLock { $0 += seconds } }
    }

    @Test func keepsUntilInvalidatedOrTooOld() async throws {
        let loads = Mutex(0)
        let load: @Sendable () async throws -> Int = { loads.withLock { $0 += 1; return $0 } }

        let forever = RefreshingCache<Int>()
        #expect(try await forever.value(loading: load) == 1)
        #expect(try await forever.value(loading: load) == 1, "kept")
        await forever.invalidate()
        #expect(try await forever.value(loading: load) == 2, "reloaded after invalidation")

        let clock = Clock()
        let aging = RefreshingCache<Int>(maxAge: 5, clock: clock.wallClock)
        #expect(try await aging.value(loading: load) == 3)
        clock.advance(4)
        #expect(try await aging.value(loading: load) == 3)
        clock.advance(1)
        #expect(try await aging.value(loading: load) == 4, "reloaded once maxAge old")
    }

    @Test func aLoadRacingAnInvalidationIsNotKept() async throws {
        let cache = RefreshingCache<String>()
        let value = try await cache.value {
            await cache.invalidate()  // a write lands while the load is reading the old state
            return "stale"
        }
        #expect(value == "stale", "the caller still gets what it loaded")
        #expect(try await cache.value { "fresh" } == "fresh", "but it was not kept")
    }
}
