import Actors
import Domain
import Foundation
import HTTPTypes
import HummingbirdTesting
import Net
import Services
import TestSupport
import Testing

@testable import App

/// Cached identities of tokens in use are read again in batches before they lapse, and the batch
/// sees what other processes changed: the cache's lifetime still bounds every change made elsewhere.
@Suite struct TokenRenewalTests {
    @Test(
        "a renewal reads the store again: a revocation or a role change made elsewhere applies, a live token stays cached",
        arguments: StoreKind.allCases)
    func renewal(_ kind: StoreKind) async throws {
        let clock = ManualClock()
        try await Harness.run(.router, store: kind, clock: clock.wallClock, { $0.cacheLifetime = 5 }) { harness, client in
            let (_, revokedToken) = try await harness.account(.neosc)
            let (promoted, promotedToken) = try await harness.account(.user)
            let (_, idleToken) = try await harness.account(.user)
            for token in [revokedToken, promotedToken, idleToken] {
                #expect(try await client.send(.get, "/api/auth/me", token: token).status == .ok, "cached")
            }
            for token in [revokedToken, promotedToken] {
                #expect(try await client.send(.get, "/api/auth/me", token: token).status == .ok, "in use")
            }
            // Another process revokes one token and promotes the other account; this one's cache
            // has not heard of either.
            #expect(try await harness.store.revoke(digest: BearerCredential.digest(revokedToken), at: clock.now))
            var changed = promoted
            changed.role = .neosc
            try await harness.store.update(changed)
            #expect(try await client.send(.get, "/api/auth/me", token: revokedToken).status == .ok, "still cached")

            // Three seconds on, both entries have less than half their lifetime left: the renewal
            // service (every quarter of it) reads them again.
            clock.advance(3)
            let refused = try await eventually {
                try await client.send(.get, "/api/auth/me", token: revokedToken).status == .unauthorized
            }
            #expect(refused, "refused two seconds before its entry would have lapsed")
            let promotedRenewed = try await eventually {
                try await client.send(.get, "/api/auth/me", token: promotedToken).decoded(UserBody.self).role == "neosc"
            }
            #expect(promotedRenewed, "renewed too (by a scheduled pass, or by the ask its use just made)")

            // The idle token was presented once: its fill counts as a use, and it is renewed once
            // like the others (here by a pass of the test's own, so that it is renewed before the
            // clock moves on, whatever the service's timing).
            let cache = harness.portal.tokenCache
            try await TokenRenewal(store: harness.store, tokenCache: cache, clock: clock.wallClock).renewDue(within: 2.5)
            // Past the first lifetime: the renewed entries answer.
            clock.advance(3)
            #expect(cache.identity(forDigest: BearerCredential.digest(promotedToken))?.principal.role == .neosc)
            // Unused since its renewal, the idle one lapses, and its next request reads it again.
            clock.advance(2.5)
            #expect(cache.identity(forDigest: BearerCredential.digest(idleToken)) == nil, "not used since its renewal: lapsed")
            #expect(try await client.send(.get, "/api/auth/me", token: idleToken).status == .ok, "read again on its next request")
        }
    }
}

extension TokenRenewalTests {
    @Test("a use with less than half the lifetime left is renewed at once, not at the next scheduled pass")
    func renewedWhenUsedNearItsLapse() async throws {
        let clock = ManualClock()
        try await Harness.run(.router, clock: clock.wallClock, { $0.cacheLifetime = 600 }) { harness, client in
            // Ten minutes' lifetime: the scheduled passes are 150 s apart, so only the ask made by
            // a use near the lapse can renew the entry within this test.
            let (account, token) = try await harness.account(.user)
            #expect(try await client.send(.get, "/api/auth/me", token: token).status == .ok, "cached")
            var changed = account
            changed.role = .neosc
            try await harness.store.update(changed)  // by another process: the cache has not heard
            clock.advance(200)
            #expect(try await client.send(.get, "/api/auth/me", token: token).decoded(UserBody.self).role == "user")
            clock.advance(200)  // 200 s left: less than half
            #expect(try await client.send(.get, "/api/auth/me", token: token).decoded(UserBody.self).role == "user", "still cached")
            let digest = BearerCredential.digest(token)
            let cache = harness.portal.tokenCache
            let renewed = try await eventually { cache.identity(forDigest: digest)?.principal.role == .neosc }
            #expect(renewed, "read again at once, with what the store now says")
            clock.advance(250)  // past the first read's lapse
            #expect(cache.identity(forDigest: digest)?.principal.role == .neosc, "lives a lifetime from the renewal")
        }
    }

    @Test("a batch renews or forgets each due entry by the sign-in rule, a batch of tokens per read")
    func batches() async throws {
        let clock = ManualClock()
        try await Harness.run(.router, clock: clock.wallClock, { $0.cacheLifetime = 3_600 }) { harness, client in
            // An hour's lifetime: the service waits 15 minutes between passes, so this test's
            // calls are the only renewals.
            var tokens: [String] = []
            for _ in 0..<7 { tokens.append(try await harness.account(.user).token) }
            let (disabled, disabledToken) = try await harness.account(.neosc)
            for token in tokens + [disabledToken] {
                for _ in 0..<2 { #expect(try await client.send(.get, "/api/auth/me", token: token).status == .ok) }
            }
            var changed = disabled
            changed.disabled = true
            try await harness.store.update(changed)
            let renewal = TokenRenewal(store: harness.store, tokenCache: harness.portal.tokenCache, clock: clock.wallClock)
            #expect(try await renewal.renewDue(within: 60, batchSize: 3) == .init(), "none lapses within a minute")
            clock.advance(3_000)
            #expect(try await renewal.renewDue(within: 1_800, batchSize: 3) == .init(renewed: 7, forgotten: 1))
            #expect(try await client.send(.get, "/api/auth/me", token: disabledToken).status == .unauthorized)
            #expect(try await renewal.renewDue(within: 1_800, batchSize: 3) == .init(), "renewed: not due again, and unused since")
        }
    }
}
