import Actors
import Domain
import Foundation
import TestSupport
import Testing

@Suite struct TokenCacheTests {
    static func identity(_ digest: String, user: String = "usr-1", role: Role = .user, expiresAt: Date = .distantFuture) -> Identity {
        let account = User(
            id: user, email: "\(user)@example.com", name: user, organizationID: nil, role: role, passwordHash: nil,
            createdAt: ManualClock.start, updatedAt: ManualClock.start)
        return Identity(
            principal: Principal(
                userID: user, email: account.email, name: user, role: role, organizationID: nil, mfaVerified: false,
                credentialDigest: digest, credentialExpiresAt: expiresAt),
            user: account, organization: nil)
    }

    /// A five-second cache holding a stored token per user of `users` (digest = user id), each
    /// used once since its fill.
    static func inUse(_ users: [String], clock: ManualClock) async -> TokenCache {
        let cache = TokenCache(lifetime: 5, clock: clock.wallClock)
        for user in users {
            cache.remember(Self.identity(user, user: user), ticket: cache.fillTicket(), renewable: true)
            _ = cache.identity(forDigest: user)
        }
        return cache
    }

    @Test("an entry lives its lifetime from the fill, never past its credential")
    func lifetime() async {
        let clock = ManualClock()
        let cache = TokenCache(lifetime: 5, clock: clock.wallClock)
        cache.remember(Self.identity("a"), ticket: cache.fillTicket())
        cache.remember(Self.identity("b", expiresAt: clock.now + 2), ticket: cache.fillTicket())
        clock.advance(1.9)
        #expect(cache.identity(forDigest: "a") != nil)
        #expect(cache.identity(forDigest: "b") != nil)
        clock.advance(0.1)
        #expect(cache.identity(forDigest: "b") == nil, "not past the credential's expiry")
        clock.advance(2.9)
        #expect(cache.identity(forDigest: "a") != nil)
        clock.advance(0.1)
        #expect(cache.identity(forDigest: "a") == nil)
    }

    @Test("due for renewal: stored tokens filled by a request or used since their renewal, lapsing within the margin")
    func due() async {
        let clock = ManualClock()
        let cache = TokenCache(lifetime: 5, clock: clock.wallClock)
        let ticket = cache.fillTicket()
        cache.remember(Self.identity("filled"), ticket: ticket, renewable: true)
        cache.remember(Self.identity("assertion", user: "usr-3"), ticket: ticket)
        _ = cache.identity(forDigest: "assertion")
        #expect(cache.dueForRenewal(within: 2.5).isEmpty, "five seconds left")
        clock.advance(2.5)
        #expect(cache.dueForRenewal(within: 2.5) == ["filled"], "a fill is a use; an assertion's entry is never renewed")
        cache.renew([Self.identity("filled")], gone: [], readAt: clock.now, ticket: cache.fillTicket())
        clock.advance(2.5)
        #expect(cache.dueForRenewal(within: 2.5).isEmpty, "unused since its renewal: left to lapse")
        clock.advance(2.5)
        #expect(cache.identity(forDigest: "filled") == nil)
    }

    @Test(
        "a use with less than the margin left asks for renewal once; the entry is handed over once, until renewed or lapsed",
        .timeLimit(.minutes(1)))
    func lapsingInUse() async {
        let clock = ManualClock()
        let cache = TokenCache(lifetime: 5, clock: clock.wallClock)
        #expect(cache.renewalMargin == 2.5, "half the lifetime by default")
        let ticket = cache.fillTicket()
        cache.remember(Self.identity("a"), ticket: ticket, renewable: true)
        cache.remember(Self.identity("b", user: "usr-2"), ticket: ticket, renewable: true)
        cache.remember(Self.identity("assertion", user: "usr-3"), ticket: ticket)
        clock.advance(2)
        _ = cache.identity(forDigest: "a")
        #expect(cache.lapsingInUse().isEmpty, "three seconds left: the scheduled passes see to it")
        clock.advance(1)
        for digest in ["a", "a", "assertion"] { _ = cache.identity(forDigest: digest) }
        var asked = cache.renewalWanted.makeAsyncIterator()
        #expect(await asked.next() != nil, "asked at once")
        #expect(cache.lapsingInUse() == ["a"], "neither an unused entry nor an assertion's")
        #expect(cache.lapsingInUse().isEmpty, "handed over once")
        _ = cache.identity(forDigest: "b")
        cache.renew([Self.identity("b", user: "usr-2")], gone: [], readAt: clock.now, ticket: cache.fillTicket())
        #expect(cache.lapsingInUse().isEmpty, "renewed meanwhile: five seconds left again")
        _ = cache.identity(forDigest: "a")
        clock.advance(2)
        #expect(cache.lapsingInUse().isEmpty, "lapsed: its next use reads it")

        // An entry that lapses with its credential: a renewal would give it nothing, so no ask.
        cache.remember(Self.identity("ending", user: "usr-4", expiresAt: clock.now + 2), ticket: cache.fillTicket(), renewable: true)
        _ = cache.identity(forDigest: "ending")
        #expect(cache.lapsingInUse().isEmpty, "its credential ends within the margin")
    }

    @Test("a renewal gives a lifetime from its read; forgets what is gone; keeps a later fill")
    func renewal() async {
        let clock = ManualClock()
        let cache = await Self.inUse(["a", "b"], clock: clock)
        clock.advance(3)
        let due = cache.dueForRenewal(within: 2.5)
        let ticket = cache.fillTicket()
        #expect(Set(due) == ["a", "b"])
        let readAt = clock.now
        clock.advance(0.5)
        cache.renew([Self.identity("a", user: "a", role: .neosc)], gone: ["b"], readAt: readAt, ticket: ticket)
        #expect(cache.identity(forDigest: "b") == nil, "gone: forgotten")
        #expect(cache.identity(forDigest: "a")?.principal.role == .neosc, "renewed with what the store said")
        clock.advance(4.4)  // 7.9 s after the fill, 4.9 s after the read
        #expect(cache.identity(forDigest: "a") != nil)
        clock.advance(0.1)
        #expect(cache.identity(forDigest: "a") == nil, "lifetime counted from the read")
        #expect(cache.dueForRenewal(within: 2.5).isEmpty)

        // A renewal read before a fresher fill leaves the fill alone.
        cache.remember(Self.identity("c", role: .admin), ticket: cache.fillTicket(), renewable: true)
        cache.renew([Self.identity("c", role: .user)], gone: [], readAt: clock.now - 1, ticket: cache.fillTicket())
        #expect(cache.identity(forDigest: "c")?.principal.role == .admin)
    }

    @Test("a renewal read before an eviction renews nothing, but still forgets")
    func evictionWins() async {
        let clock = ManualClock()
        let cache = await Self.inUse(["a", "b", "c"], clock: clock)
        clock.advance(3)
        let ticket = cache.fillTicket()
        let readAt = clock.now
        cache.evict(userID: "b")  // a role change here, while the batch was reading
        cache.renew([Self.identity("a", user: "a"), Self.identity("b", user: "b")], gone: ["c"], readAt: readAt, ticket: ticket)
        #expect(cache.identity(forDigest: "b") == nil, "the evicted entry is not put back")
        #expect(cache.identity(forDigest: "c") == nil)
        clock.advance(2)
        #expect(cache.identity(forDigest: "a") == nil, "not renewed: it lapsed at its first lifetime")
    }

    @Test("a renewal replaces only a renewable entry of the same account; a lapsed entry is not due")
    func renewsOnlyItsOwn() async {
        let clock = ManualClock()
        let cache = await Self.inUse(["a"], clock: clock)
        cache.remember(Self.identity("assertion", user: "p"), ticket: cache.fillTicket())
        clock.advance(3)
        let ticket = cache.fillTicket()
        let renewed = cache.renew(
            [Self.identity("assertion", user: "p", role: .admin), Self.identity("a", user: "someone-else", role: .admin)], gone: [],
            readAt: clock.now, ticket: ticket)
        #expect(renewed == 0)
        #expect(cache.identity(forDigest: "assertion")?.principal.role == .user, "an assertion's entry is never renewed")
        #expect(cache.identity(forDigest: "a")?.principal.userID == "a")
        clock.advance(2)
        #expect(cache.dueForRenewal(within: 2.5).isEmpty, "lapsed while in use: read again by its next request")
        #expect(cache.identity(forDigest: "a") == nil)
    }

    @Test("a full cache makes room an eighth at a time, stale entries first, and keeps the entry just filled")
    func boundedByCapacity() {
        let clock = ManualClock()
        let cache = TokenCache(capacity: 16, lifetime: 5, clock: clock.wallClock)
        for index in 0..<200 {
            let digest = "d\(index)"
            cache.remember(Self.identity(digest, user: "u\(index)"), ticket: cache.fillTicket())
            #expect(cache.count <= 16)
            #expect(cache.identity(forDigest: digest) != nil, "the entry just filled is kept")
            if index == 100 { clock.advance(6) }  // everything before is stale now
        }
        #expect(cache.count >= 14, "room is made an eighth at a time, not by emptying the cache: \(cache.count)")
    }
}
