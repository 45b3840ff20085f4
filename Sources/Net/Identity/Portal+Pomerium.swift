import Actors
import Crypto
import Domain
import Foundation

extension Portal {
    /// The identity a Pomerium assertion vouches for. Verified once, then cached by digest until
    /// the cache lifetime or the assertion's own expiry, whichever is first.
    func identity(
        forAssertion assertion: String, gate: PomeriumGate, in context: PortalRequestContext
    ) async throws
        -> Identity
    {
        try await cachedIdentity(digest: "pomerium:" + BearerCredential.digest(assertion), source: "pomerium_assertion", in: context) {
            try await gate.identity(fromAssertion: assertion)
        }
    }

    /// The identity in Pomerium's plain headers, which a trusted proxy vouches for.
    func identity(
        forHeaders email: String, user: String?, groups: String?, in context: PortalRequestContext
    ) async throws -> Identity {
        let digest = "pomerium-headers:" + BearerCredential.digest([email, user ?? "", groups ?? ""].joined(separator: "\n"))
        return try await cachedIdentity(digest: digest, source: "pomerium_headers", in: context) {
            // Headers carry no expiry of their own: what they say is believed for a minute at most.
            PomeriumGate.identity(email: email, user: user, groups: groups, validUntil: clock.now().addingTimeInterval(60))
        }
    }

    /// The cached identity for `digest`, or the account `verify` vouches for, cached (unless an
    /// eviction raced the lookup).
    private func cachedIdentity(
        digest: String, source: String, in context: PortalRequestContext, verify: () async throws -> ExternalIdentity
    ) async throws -> Identity {
        if let cached = await tokenCache.identity(forDigest: digest), clock.now() < cached.principal.credentialExpiresAt {
            return cached
        }
        let ticket = await tokenCache.fillTicket()
        metrics.identityVerified(source: source)
        let external = try await verify()
        let identity = try await identity(for: external, user: try await account(for: external, in: context), digest: digest)
        await tokenCache.remember(identity, ticket: ticket)
        return identity
    }
}
