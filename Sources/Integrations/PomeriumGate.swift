import Actors
import Domain
import Foundation

/// Checks what Pomerium says about the caller: the signed `X-Pomerium-Jwt-Assertion` (ES256 by
/// default, keys from Pomerium's JWKS, rotation picked up on an unknown `kid`), or, when
/// configured, the plain identity headers from a trusted proxy.
public struct PomeriumGate: Sendable {
    /// The provider name stored on accounts Pomerium vouches for.
    static let provider = "pomerium"

    public let settings: PomeriumSettings
    private let verifier: SignedTokenVerifier

    public init(
        settings: PomeriumSettings, http: OutboundHTTP, clock: WallClock, keySetMaxAge: TimeInterval = 300,
        keyRefreshInterval: TimeInterval = 30
    ) {
        self.settings = settings
        let url = settings.jwksURL
        let keys = VerificationKeys.cache(
            owner: "Pomerium", http: http, clock: clock, maxAge: keySetMaxAge, refreshInterval: keyRefreshInterval
        ) { url }
        self.verifier = SignedTokenVerifier(
            keys: keys,
            rules: ClaimRules(
                issuers: PomeriumSettings.spellings(of: settings.issuers),
                audiences: PomeriumSettings.spellings(of: settings.audiences),
                // Pomerium assertions live five minutes; a day-long one was not minted by Pomerium.
                maxLifetime: 3_600),
            clock: clock)
    }

    /// Fetches Pomerium's keys now, so a wrong `POMERIUM_JWKS_URL` shows at start-up.
    public func warmUp() async throws {
        _ = try await verifier.keys.current()
    }

    /// Whether NeoSC can check assertions: true once Pomerium's key set has been fetched (a
    /// stale copy still serves while a refresh fails). Until then every request behind Pomerium
    /// gets 503, and `/health` says so. Answered at once; while there is no copy, a fetch is
    /// started in the background at most once per refresh interval, however often this is asked.
    public func hasKeySet() async -> Bool {
        await verifier.keys.hasCopyElseFetch()
    }

    /// The identity a signed assertion vouches for.
    package func identity(fromAssertion assertion: String) async throws -> ExternalIdentity {
        let claims = try await verifier.verify(assertion)
        let registered = claims.registered
        let zitadelRoles = claims.zitadelRoles(projectID: settings.projectID)
        return ExternalIdentity(
            // `ClaimRules` refused an assertion without `sub` (Pomerium's `user` is the same id).
            provider: Self.provider, subject: registered.subject ?? "",
            email: Validation.providerEmail(claims.email),
            emailVerified: claims.emailVerified, name: claims.name,
            roles: ProviderRoles.roles(named: zitadelRoles.isEmpty ? claims.groups : zitadelRoles),
            mfaVerified: claims.mfaVerified, expiresAt: registered.expiresAt ?? .distantPast, demo: claims.demo,
            session: claims.session, claims: claims.presentClaims, emailUnverified: claims.emailUnverified)
    }

    /// The identity in the plain `X-Pomerium-*` headers. Only call this for a trusted peer.
    package static func identity(email: String, user: String?, groups: String?, validUntil: Date) -> ExternalIdentity {
        let email = email.trimmingCharacters(in: .whitespaces).lowercased()
        let groupNames = (groups ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return ExternalIdentity(
            provider: provider, subject: user.flatMap { $0.isEmpty ? nil : $0 } ?? email, email: email,
            emailVerified: false, name: nil, roles: ProviderRoles.roles(named: groupNames), mfaVerified: false,
            expiresAt: validUntil)
    }
}
