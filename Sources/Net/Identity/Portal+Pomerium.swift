import Actors
import Domain
import Foundation
import Services

extension Portal {
    /// The identity a Pomerium assertion vouches for. Verified once, then cached by digest until
    /// the cache lifetime or the assertion's own expiry, whichever is first.
    func identity(
        forAssertion assertion: String, gate: PomeriumGate, in context: PortalRequestContext
    ) async throws
        -> Identity
    {
        try await externalAccounts.identity(
            cachedAs: "pomerium:" + BearerCredential.digest(assertion), source: "pomerium_assertion", from: context.clientAddress
        ) {
            try await gate.identity(fromAssertion: assertion)
        }
    }

    /// The identity in Pomerium's plain headers, which a trusted proxy vouches for.
    func identity(
        forHeaders email: String, user: String?, groups: String?, in context: PortalRequestContext
    ) async throws -> Identity {
        let digest = "pomerium-headers:" + BearerCredential.digest([email, user ?? "", groups ?? ""].joined(separator: "\n"))
        return try await externalAccounts.identity(cachedAs: digest, source: "pomerium_headers", from: context.clientAddress) {
            // Headers carry no expiry of their own: what they say is believed for a minute at most.
            PomeriumGate.identity(email: email, user: user, groups: groups, validUntil: clock.now().addingTimeInterval(60))
        }
    }
}
