import Actors
import Domain
import Foundation
import Synchronization
import TestSupport
import Testing

@Suite struct RefreshingCacheTests {
    final class Clock: Sendable {
        let now = Mutex(Date(timeIntervalSince1970: 1_000))
        var wallClock: WallClock { WallClock { self.now.withLock { $0 } } }
        func advance(_ seconds: TimeInterval) { now.withLock { $0 += seconds } }
    }

    @Test func keepsUntilInvalidatedOrTooOld() async throws {
        let loads = Mutex(0)
        let load: @Sendable () async throws -> Int = {
            loads.withLock {
                $0 += 1
                return $0
            }
        }

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

    @Test("callers that find the value missing or too old while a load runs share that load")
    func oneLoadAtATime() async throws {
        let clock = Clock()
        let cache = RefreshingCache<Int>(maxAge: 5, clock: clock.wallClock)
        let loads = Mutex(0)
        let opened = Mutex(false)
        let load: @Sendable () async throws -> Int = {
            let number = loads.withLock {
                $0 += 1
                return $0
            }
            // Held until the test lets its round through, so that every caller arrives meanwhile.
            while !opened.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(1)) }
            return number
        }
        for round in 1...2 {
            // First with nothing loaded, then with the value too old.
            let values = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<50 { group.addTask { try await cache.value(loading: load) } }
                #expect(try await eventually { loads.withLock { $0 } >= round })
                try await Task.sleep(for: .milliseconds(50))  // the late callers too
                opened.withLock { $0 = true }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            opened.withLock { $0 = false }
            #expect(values == Array(repeating: round, count: 50), "round \(round): every caller got the one load's value")
            #expect(loads.withLock { $0 } == round, "round \(round): one load")
            clock.advance(5)
        }
    }
}

extension RefreshingCacheTests {
    @Test("an invalidation during a load: the next caller starts a new load, the old one neither keeps its value nor ends the new one")
    func invalidationDuringALoad() async throws {
        let cache = RefreshingCache<Int>()
        let loads = Mutex(0)
        let released = Mutex(0)  // how many loads may finish
        let load: @Sendable () async throws -> Int = {
            let number = loads.withLock {
                $0 += 1
                return $0
            }
            while released.withLock({ $0 }) < number { try await Task.sleep(for: .milliseconds(1)) }
            return number
        }
        async let first = cache.value(loading: load)
        #expect(try await eventually { loads.withLock { $0 } == 1 })
        await cache.invalidate()
        async let second = cache.value(loading: load)
        #expect(try await eventually { loads.withLock { $0 } == 2 }, "a caller after the invalidation does not join the old load")
        released.withLock { $0 = 1 }
        let firstValue = try await first
        #expect(firstValue == 1, "the old load's caller gets what it loaded")
        async let third = cache.value(loading: load)
        try await Task.sleep(for: .milliseconds(50))
        #expect(loads.withLock { $0 } == 2, "the old load's end did not drop the new one: a third caller joins it")
        released.withLock { $0 = 2 }
        let (secondValue, thirdValue) = try await (second, third)
        #expect(secondValue == 2 && thirdValue == 2)
        #expect(try await cache.value(loading: load) == 2, "the new load's value is kept")
        #expect(loads.withLock { $0 } == 2)
    }
}

@Suite struct RemoteResourceCacheTests {
    @Test("concurrent callers share one fetch; refreshes on demand are rate-limited; a failed refresh keeps the last copy")
    func fetching() async throws {
        let clock = RefreshingCacheTests.Clock()
        let fetches = Mutex(0)
        let failing = Mutex(false)
        let cache = RemoteResourceCache<Int>(maxAge: 300, minimumRefreshInterval: 30, clock: clock.wallClock) {
            try await Task.sleep(for: .milliseconds(20))
            if failing.withLock({ $0 }) { throw CancellationError() }
            return fetches.withLock {
                $0 += 1
                return $0
            }
        }
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 { group.addTask { try await cache.current() } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(values) == [1] && fetches.withLock { $0 } == 1)

        #expect(try await cache.refreshIfAllowed() == nil, "just fetched")
        clock.advance(31)
        #expect(try await cache.refreshIfAllowed() == 2)
        #expect(try await cache.refreshIfAllowed() == nil)
        #expect(try await cache.current() == 2)

        failing.withLock { $0 = true }
        clock.advance(301)
        #expect(try await cache.current() == 2, "stale beats nothing when the provider is down")
    }

    @Test("with nothing cached, a failed fetch is answered again at once until the refresh interval passes")
    func outage() async throws {
        let clock = RefreshingCacheTests.Clock()
        struct ProviderDown: Error {}
        let attempts = Mutex(0)
        let cache = RemoteResourceCache<Int>(maxAge: 300, minimumRefreshInterval: 30, clock: clock.wallClock) {
            attempts.withLock { $0 += 1 }
            throw ProviderDown()
        }
        for _ in 0..<5 { _ = try? await cache.current() }
        #expect(attempts.withLock { $0 } == 1, "one attempt per interval, not one per caller")
        clock.advance(31)
        _ = try? await cache.current()
        #expect(attempts.withLock { $0 } == 2)
    }

    @Test("hasCopyElseFetch answers at once, starts at most one background fetch per interval, and is true once one succeeds")
    func probing() async throws {
        let clock = RefreshingCacheTests.Clock()
        struct ProviderDown: Error {}
        let attempts = Mutex(0)
        let up = Mutex(false)
        let cache = RemoteResourceCache<Int>(maxAge: 300, minimumRefreshInterval: 30, clock: clock.wallClock) {
            attempts.withLock { $0 += 1 }
            guard up.withLock({ $0 }) else { throw ProviderDown() }
            return 7
        }
        #expect(await !cache.hasCopyElseFetch())
        #expect(try await eventually { attempts.withLock { $0 } == 1 })
        for _ in 0..<20 { #expect(await !cache.hasCopyElseFetch()) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(attempts.withLock { $0 } == 1, "no second attempt within the interval, however often it is asked")
        up.withLock { $0 = true }
        clock.advance(31)
        _ = await cache.hasCopyElseFetch()
        #expect(try await eventually { await cache.hasCopyElseFetch() })
        #expect(attempts.withLock { $0 } == 2)
    }
}

@Suite struct SignInStateTests {
    @Test("a pending sign-in is taken once and expires after its lifetime (time, not room, drops it)")
    func pendingSignInsAreTakenOnceAndExpire() async {
        let clock = RefreshingCacheTests.Clock()
        let pending = PendingSignIns(capacity: 100, lifetime: 600, clock: clock.wallClock)
        let signIn = PendingSignIns.SignIn(codeVerifier: "v", nonce: "n", startedAt: clock.wallClock.now())
        await pending.begin(state: "s1", signIn, from: "192.0.2.1")
        #expect(await pending.take(state: "s1") == signIn)
        #expect(await pending.take(state: "s1") == nil)
        await pending.begin(state: "s2", signIn, from: "192.0.2.1")
        await pending.begin(state: "s3", signIn, from: "192.0.2.2")
        clock.advance(599)
        #expect(await pending.take(state: "s3") == signIn, "within its lifetime")
        clock.advance(2)
        #expect(await pending.take(state: "s2") == nil, "past its lifetime")
    }

    @Test("pending sign-ins are bounded: when full, the oldest of one client gives way")
    func pendingSignInsAreBounded() async {
        let clock = RefreshingCacheTests.Clock()
        let pending = PendingSignIns(capacity: 2, lifetime: 600, clock: clock.wallClock)
        for state in ["a", "b", "c", "d"] {
            await pending.begin(
                state: state, PendingSignIns.SignIn(codeVerifier: state, nonce: state, startedAt: clock.wallClock.now()),
                from: "192.0.2.1")
            #expect(await pending.count <= 2)
            clock.advance(1)
        }
        #expect(await pending.take(state: "a") == nil, "the oldest gave way")
        #expect(await pending.take(state: "b") == nil, "and the next oldest")
        #expect(await pending.take(state: "c")?.codeVerifier == "c")
        #expect(await pending.take(state: "d")?.codeVerifier == "d", "the newest stays")
    }

    /// Known since the twenty-ninth session: the oldest anywhere gave way, so one client beginning
    /// sign-ins in a loop (no credential needed) cancelled every other sign-in under way.
    @Test("a client that begins sign-ins in a loop pushes out its own, not those of others")
    func oneClientCannotPushOutOthers() async {
        let clock = RefreshingCacheTests.Clock()
        let pending = PendingSignIns(capacity: 100, lifetime: 600, clock: clock.wallClock)
        func signIn(_ name: String) -> PendingSignIns.SignIn {
            PendingSignIns.SignIn(codeVerifier: name, nonce: name, startedAt: clock.wallClock.now())
        }
        // Ten people behind one office address, and one at home, start first.
        for person in 0..<10 { await pending.begin(state: "office-\(person)", signIn("office-\(person)"), from: "203.0.113.7") }
        await pending.begin(state: "home", signIn("home"), from: "2001:db8:1:2::5")
        clock.advance(1)
        // One flooder from one address, then twenty addresses of two each.
        for round in 0..<5_000 {
            await pending.begin(state: "flood-\(round)", signIn("flood"), from: "198.51.100.66")
            #expect(await pending.count <= 100)
            clock.advance(0.01)
        }
        for address in 0..<20 {
            for round in 0..<2 {
                await pending.begin(state: "bot-\(address)-\(round)", signIn("bot"), from: "198.51.100.\(address)")
                clock.advance(0.01)
            }
        }
        #expect(await pending.take(state: "home")?.codeVerifier == "home")
        for person in 0..<10 {
            #expect(await pending.take(state: "office-\(person)")?.codeVerifier == "office-\(person)", "office \(person)")
        }
        #expect(await pending.take(state: "flood-0") == nil, "the flooder's oldest went")
        #expect(await pending.take(state: "flood-4999") != nil, "its newest stays")
        #expect(await pending.take(state: "bot-19-1") != nil)
    }

    @Test("when full, lapsed sign-ins go before any that can still complete, then the oldest of the client holding the most")
    func lapsedGoFirstThenTheLargestClientsOldest() async {
        let clock = RefreshingCacheTests.Clock()
        let pending = PendingSignIns(capacity: 8, lifetime: 600, clock: clock.wallClock)
        func signIn(_ name: String) -> PendingSignIns.SignIn {
            PendingSignIns.SignIn(codeVerifier: name, nonce: name, startedAt: clock.wallClock.now())
        }
        for index in 0..<4 { await pending.begin(state: "lapsed-\(index)", signIn("lapsed"), from: "192.0.2.1") }
        clock.advance(601)
        await pending.begin(state: "a", signIn("a"), from: "192.0.2.2")
        clock.advance(1)
        for index in 0..<3 {
            await pending.begin(state: "b-\(index)", signIn("b-\(index)"), from: "192.0.2.3")
            clock.advance(1)
        }
        await pending.begin(state: "b-3", signIn("b-3"), from: "192.0.2.3")
        #expect(await pending.count == 5, "the four lapsed went, nothing else")
        for index in 4..<7 { await pending.begin(state: "b-\(index)", signIn("b-\(index)"), from: "192.0.2.3") }
        // Full at a 1 (the oldest), b 7: one more frees an eighth, the oldest of b's.
        await pending.begin(state: "c", signIn("c"), from: "192.0.2.4")
        #expect(await pending.count == 8)
        #expect(await pending.take(state: "b-0") == nil, "the oldest of the client holding the most")
        for state in ["a", "c"] + (1..<7).map({ "b-\($0)" }) {
            #expect(await pending.take(state: state) != nil, "\(state)")
        }
    }

    @Test("room is made an eighth of the capacity at a time, and an IPv6 /48 counts as one client")
    func anEighthAtATimeAndIPv6BySite() async {
        let clock = RefreshingCacheTests.Clock()
        let pending = PendingSignIns(capacity: 16, lifetime: 600, clock: clock.wallClock)
        func signIn(_ name: String) -> PendingSignIns.SignIn {
            PendingSignIns.SignIn(codeVerifier: name, nonce: name, startedAt: clock.wallClock.now())
        }
        await pending.begin(state: "person", signIn("person"), from: "2001:db8:ffff::7")
        for index in 0..<15 {
            await pending.begin(state: "v4-\(index)", signIn("v4"), from: "198.51.100.1")
            clock.advance(0.01)
        }
        await pending.begin(state: "one-more", signIn("one-more"), from: "198.51.100.99")
        #expect(await pending.count == 15, "14 kept, then the one begun")
        #expect(await pending.take(state: "v4-1") == nil, "the largest client's two oldest went")
        #expect(await pending.take(state: "v4-2") != nil)
        // Each /64 of one /48 a client of its own would outnumber everyone; as one, it cuts itself.
        for index in 0..<200 {
            await pending.begin(state: "site-\(index)", signIn("site"), from: "2001:db8:1:\(String(index, radix: 16))::1")
            #expect(await pending.count <= 16)
            clock.advance(0.01)
        }
        #expect(await pending.take(state: "person") != nil)
        #expect(await pending.take(state: "site-199") != nil)
        #expect(await pending.take(state: "site-0") == nil)
    }
}

@Suite struct SessionRegistryTests {
    /// Requests that find the registry stale at the same moment share one read of the store.
    @Test func concurrentRefreshesShareOneRead() async throws {
        let registry = SessionRegistry(maxAge: 60)
        final class Reads: Sendable {
            let count = Atomic<Int>(0)
        }
        let reads = Reads()
        let now = Date()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    try await registry.refreshIfStale(at: now) {
                        reads.count.add(1, ordering: .relaxed)
                        try await Task.sleep(for: .milliseconds(100))
                        return []
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(reads.count.load(ordering: .relaxed) == 1)
        #expect(await registry.needsLoad(at: now) == false)
        // Stale again later: read again, once.
        try await registry.refreshIfStale(at: now.addingTimeInterval(61)) {
            reads.count.add(1, ordering: .relaxed)
            return []
        }
        #expect(reads.count.load(ordering: .relaxed) == 2)
    }
}

@Suite("Rate limits: token buckets, bounded")
struct RateLimitsTests {
    @Test("a bucket allows its burst, refuses with the wait, refills over time, and memory stays bounded")
    func buckets() async {
        let clock = ManualClock()
        let limits = RateLimits(capacity: 3, clock: clock.wallClock)
        for remaining in (0..<3).reversed() {
            let outcome = limits.take(.init(policy: "p", subject: "a"), requests: 3, perSeconds: 30)
            #expect(outcome.allowed && outcome.remaining == remaining)
        }
        let refused = limits.take(.init(policy: "p", subject: "a"), requests: 3, perSeconds: 30)
        #expect(!refused.allowed && refused.retryAfter == 10 && refused.remaining == 0)
        clock.advance(10)
        #expect(limits.take(.init(policy: "p", subject: "a"), requests: 3, perSeconds: 30).allowed, "one request back every 10 s")
        #expect(!(limits.take(.init(policy: "p", subject: "a"), requests: 3, perSeconds: 30).allowed))
        // Full: "a" is limiting, "b" (a fast limit) is full again a second later, "c" limiting.
        _ = limits.take(.init(policy: "p", subject: "b"), requests: 100, perSeconds: 1)
        _ = limits.take(.init(policy: "p", subject: "c"), requests: 3, perSeconds: 30)
        clock.advance(1)
        _ = limits.take(.init(policy: "p", subject: "d"), requests: 3, perSeconds: 30)
        #expect(limits.count == 3, "the full bucket made room")
        #expect(!(limits.take(.init(policy: "p", subject: "a"), requests: 3, perSeconds: 30).allowed), "a limiting bucket is not forgotten first")
    }

    @Test("several buckets at once: each counts the request, the first without a token is answered")
    func severalBucketsAtOnce() {
        let limits = RateLimits(capacity: 100, clock: ManualClock().wallClock)
        let takes = [
            RateLimits.Take(key: .init(policy: "wide", subject: "u"), requests: 5, perSeconds: 60),
            RateLimits.Take(key: .init(policy: "tight", subject: "u"), requests: 1, perSeconds: 60),
            RateLimits.Take(key: .init(policy: "tighter", subject: "u"), requests: 1, perSeconds: 120),
        ]
        #expect(limits.firstRefusal(of: takes.count) { takes[$0] } == nil)
        let refusal = limits.firstRefusal(of: takes.count) { takes[$0] }
        #expect(refusal?.index == 1 && refusal?.outcome.retryAfter == 60, "the first of the two refusing buckets")
        // Every bucket counted both requests, the refused one's too.
        #expect(limits.take(.init(policy: "wide", subject: "u"), requests: 5, perSeconds: 60).remaining == 2)
        #expect(limits.take(.init(policy: "tighter", subject: "u"), requests: 1, perSeconds: 120).retryAfter == 120)
    }

    @Test func aFloodOfNewKeysStaysWithinCapacityAndForgetsATenthAtATime() {
        let clock = ManualClock()
        let limits = RateLimits(capacity: 16_384, clock: clock.wallClock)
        // One instant for all: a burst the clock cannot tell apart must not empty a shard.
        for index in 0..<40_000 { _ = limits.take(.init(policy: "p", subject: "k\(index)"), requests: 3, perSeconds: 30) }
        #expect(limits.count <= 16_384)
        #expect(limits.count >= 16_384 * 8 / 10, "\(limits.count) buckets left")
        // Older buckets go before newer ones: one in use now and then outlives a flood.
        for index in 40_000..<80_000 {
            if index.isMultiple(of: 1_000) {
                clock.advance(0.001)
                _ = limits.take(.init(policy: "p", subject: "recent"), requests: 3, perSeconds: 30)
            }
            _ = limits.take(.init(policy: "p", subject: "k\(index)"), requests: 3, perSeconds: 30)
        }
        #expect(limits.count <= 16_384)
        let recent = limits.take(.init(policy: "p", subject: "recent"), requests: 3, perSeconds: 30)
        #expect(!recent.allowed && recent.retryAfter == 10, "a bucket in use is remembered: \(recent)")
    }
}

@Suite("Policy book: one snapshot, aged, reloaded once, kept when a reload fails")
struct PolicyBookTests {
    final class Source: Sendable {
        let state = Mutex<(loads: Int, fail: Bool, policies: [Policy])>((0, false, []))

        func load() throws -> [Policy] {
            try state.withLock { state in
                state.loads += 1
                if state.fail { throw DomainError.unavailable("store down") }
                return state.policies
            }
        }
    }

    static func policy(_ id: String) -> Policy {
        Policy(
            id: id, name: id, description: "", category: "c", enabled: true, weight: 0, rule: .sessionRecording(retentionDays: 1),
            updatedAt: Date(timeIntervalSince1970: 0))
    }

    @Test func agesReloadsAndKeepsTheLastGoodSnapshot() async throws {
        let clock = ManualClock()
        let source = Source()
        source.state.withLock { $0.policies = [Self.policy("a")] }
        let book = PolicyBook(maxAge: 5, clock: clock.wallClock) { try source.load() }
        #expect(try await book.current().policies.map(\.id) == ["a"])
        source.state.withLock { $0.policies = [Self.policy("a"), Self.policy("b")] }
        #expect(try await book.current().policies.map(\.id) == ["a"], "within half maxAge another replica's change is not seen")
        #expect(source.state.withLock { $0.loads } == 1)
        clock.advance(3)
        _ = try await book.current()  // between half maxAge and maxAge: answers at once, reloads behind
        let reloaded = try await eventually { try await book.current().policies.count == 2 }
        #expect(reloaded, "seen after half maxAge")

        source.state.withLock { $0.policies = [Self.policy("c")] }
        clock.advance(5.5)
        #expect(try await book.current().policies.map(\.id) == ["c"], "past maxAge the caller waits for the reload")

        source.state.withLock { $0.fail = true }
        clock.advance(6)
        for _ in 0..<3 { #expect(try await book.current().policies.map(\.id) == ["c"], "a failed reload keeps the last snapshot") }
        book.invalidate()
        #expect(try await book.current().policies.map(\.id) == ["c"], "even after a local change, while the store is down")
        let neverLoaded = PolicyBook(maxAge: 5, clock: clock.wallClock) { try source.load() }
        await #expect(throws: DomainError.self) { try await neverLoaded.current() }
        source.state.withLock { $0.fail = false }
        clock.advance(2)
        #expect(try await neverLoaded.current().policies.map(\.id) == ["c"])
    }
}

@Suite struct RecentValuesTests {
    @Test("a value is kept for its age; past the capacity the least recently computed goes, not a refreshed one")
    func keepsAndDropsTheOldest() async throws {
        let clock = RefreshingCacheTests.Clock()
        let computed = Mutex<[String]>([])
        let recent = RecentValues<String, String>(maxAge: 60, capacity: 2, clock: clock.wallClock)
        func value(_ key: String) async throws -> String {
            try await recent.value(for: key) {
                computed.withLock { $0.append(key) }
                return key.uppercased()
            }
        }
        #expect(try await value("a") == "A")
        clock.advance(10)
        #expect(try await value("b") == "B")
        #expect(try await value("a") == "A", "kept")
        clock.advance(55)
        #expect(try await value("a") == "A", "a is 65 s old: computed again, now the newest")
        #expect(try await value("c") == "C", "past the capacity: b, the oldest, goes")
        #expect(await recent.count == 2)
        #expect(try await value("a") == "A")
        #expect(try await value("b") == "B")
        #expect(computed.withLock { $0 } == ["a", "b", "a", "c", "b"])
    }

    @Test("never more than the capacity; values that have all outlived their age are let go")
    func boundedAndLetGo() async throws {
        let clock = RefreshingCacheTests.Clock()
        let recent = RecentValues<Int, Int>(maxAge: 60, capacity: 100, clock: clock.wallClock)
        for key in 0..<1_000 {
            _ = try await recent.value(for: key) { key }
            #expect(await recent.count <= 100)
        }
        #expect(try await recent.value(for: 999) { -1 } == 999, "the newest is kept")
        #expect(try await recent.value(for: 0) { -1 } == -1, "the oldest went")
        clock.advance(61)
        _ = try await recent.value(for: 5_000) { 0 }
        let count = await recent.count
        #expect(count <= 51, "the older half, all stale, is dropped whole: \(count)")
    }

    @Test("past its age but within servedStale a value is answered at once, its successor computed beside it once; past both, waited for")
    func staleWhileRevalidating() async throws {
        let clock = RefreshingCacheTests.Clock()
        let failures = Mutex<[String]>([])
        let recent = RecentValues<String, Int>(maxAge: 60, servedStale: 60, clock: clock.wallClock) { key, _ in
            failures.withLock { $0.append(key) }
        }
        let computations = Mutex(0)
        let released = Mutex(true)
        let failing = Mutex(false)
        let compute: @Sendable () async throws -> Int = {
            let number = computations.withLock {
                $0 += 1
                return $0
            }
            // Held until released, for 20 s at most: a caller that waited for it fails, not hangs.
            let deadline = ContinuousClock.now + .seconds(20)
            while !released.withLock({ $0 }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
            if failing.withLock({ $0 }) { throw CancellationError() }
            return number
        }
        #expect(try await recent.value(for: "k", computing: compute) == 1)
        clock.advance(90)
        released.withLock { $0 = false }
        #expect(try await recent.value(for: "k", computing: compute) == 1, "stale: answered at once, not waited for")
        #expect(try await recent.value(for: "k", computing: compute) == 1, "and again")
        #expect(try await eventually { computations.withLock { $0 } == 2 })
        #expect(await recent.computations == 1, "one successor for both")
        released.withLock { $0 = true }
        #expect(try await eventually { await recent.computations == 0 })
        #expect(try await recent.value(for: "k", computing: compute) == 2, "the successor is kept")
        #expect(computations.withLock { $0 } == 2)

        // A successor that fails leaves the stale value answered.
        clock.advance(70)
        failing.withLock { $0 = true }
        #expect(try await recent.value(for: "k", computing: compute) == 2)
        #expect(try await eventually { await recent.computations == 0 })
        #expect(try await recent.value(for: "k", computing: compute) == 2)
        #expect(try await eventually { await recent.computations == 0 })
        #expect(failures.withLock { $0 } == ["k"], "told of, as no caller waited for it; once, not by every stale answer")
        // A computation a caller waits for fails to that caller, and is not told of besides.
        await #expect(throws: CancellationError.self) { try await recent.value(for: "other", computing: compute) }
        #expect(failures.withLock { $0 } == ["k"])

        // Past its age and servedStale (the successor's age counts from when it began): waited for.
        failing.withLock { $0 = false }
        try #require(try await eventually { await recent.computations == 0 })
        clock.advance(200)
        let before = computations.withLock { $0 }
        #expect(try await recent.value(for: "k", computing: compute) == before + 1, "too old to answer: computed, and waited for")

        // After a success, the key's next failure in the background is told of again.
        clock.advance(70)
        failing.withLock { $0 = true }
        #expect(try await recent.value(for: "k", computing: compute) == before + 1)
        #expect(try await eventually { await recent.computations == 0 })
        #expect(failures.withLock { $0 } == ["k", "k"])
    }

    @Test("a key's told failure is forgotten with its kept value (a chart of an hour past is never asked for again)")
    func failuresForgottenWithTheirValues() async throws {
        let clock = RefreshingCacheTests.Clock()
        let recent = RecentValues<String, Int>(maxAge: 60, servedStale: 60, capacity: 2, clock: clock.wallClock) { _, _ in }
        #expect(try await recent.value(for: "k") { 1 } == 1)
        clock.advance(90)
        #expect(try await recent.value(for: "k") { throw CancellationError() } == 1, "stale, its successor failing beside it")
        #expect(try await eventually { await recent.computations == 0 })
        #expect(await recent.failingKeys == 1)
        // Generations of one value: two other keys computed let k's value go, and its failure with it.
        #expect(try await recent.value(for: "a") { 2 } == 2)
        #expect(await recent.failingKeys == 1, "k's value still kept, in the older generation")
        #expect(try await recent.value(for: "b") { 3 } == 3)
        #expect(await recent.failingKeys == 0)
    }

    @Test("callers of a key whose value is being computed share that computation; other keys do not wait for it")
    func oneComputationPerKey() async throws {
        let recent = RecentValues<String, Int>(maxAge: 60)
        let computations = Mutex(0)
        let released = Mutex(false)
        let slow: @Sendable () async throws -> Int = {
            let number = computations.withLock {
                $0 += 1
                return $0
            }
            while !released.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(1)) }
            return number
        }
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<50 { group.addTask { try await recent.value(for: "chart", computing: slow) } }
            #expect(try await eventually { computations.withLock { $0 } >= 1 })
            try await Task.sleep(for: .milliseconds(50))  // the late callers too
            #expect(try await recent.value(for: "other") { 7 } == 7, "another key is not held up")
            released.withLock { $0 = true }
            let values = try await group.reduce(into: []) { $0.append($1) }
            #expect(values == Array(repeating: 1, count: 50))
        }
        #expect(computations.withLock { $0 } == 1, "one computation for 50 callers")
    }
}
