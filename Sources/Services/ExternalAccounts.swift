import Actors
import Domain
import Foundation

/// The NeoSC accounts behind identities an identity provider (Zitadel, Pomerium) vouched for:
/// linked, linked now, provisioned just in time, or a demo's visitor; and the `Identity` a
/// request acts with, cached by the credential's digest. The verifying itself (signatures,
/// claims) is the providers' adapters' job; this starts from a verified `ExternalIdentity`.
public struct ExternalAccounts: Sendable {
    private let store: any Store
    private let tokenCache: TokenCache
    private let sessions: SessionRegistry
    private let tokens: SignIn
    private let audit: AuditTrail
    private let clock: WallClock
    private let metrics: PortalMetrics
    /// Refusals audited per (client address, reason) and minute: anyone can send a bad code or
    /// token, and the trail must not grow by a row per request.
    private let refusalsAudited: AttemptThrottle
    /// Provider sessions this process has seen (a day each), so only a first sight asks the store.
    private let sessionsSeen: AttemptThrottle

    public init(
        store: any Store, tokenCache: TokenCache, sessions: SessionRegistry, tokens: SignIn, audit: AuditTrail, clock: WallClock,
        metrics: PortalMetrics
    ) {
        self.store = store
        self.tokenCache = tokenCache
        self.sessions = sessions
        self.tokens = tokens
        self.audit = audit
        self.clock = clock
        self.metrics = metrics
        self.refusalsAudited = AttemptThrottle(limit: 1, window: 60, capacity: 10_000, clock: clock)
        self.sessionsSeen = AttemptThrottle(limit: 1, window: 86_400, capacity: 100_000, clock: clock)
    }

    /// Signs `user`, the account behind the verified `external` identity, in to NeoSC: a bearer
    /// token that lasts no longer than a bound demo, and an `sso_login` entry naming the method
    /// (`token_exchange`, `id_token`, `browser`), the provider and whether MFA was passed.
    public func signIn(_ external: ExternalIdentity, as user: User, method: String, from address: String) async throws -> SignIn.Grant {
        var details = ["method": method, "provider": external.provider, "mfa": String(external.mfaVerified)]
        // Signed in as a demo's visitor: which demo, and who at the provider.
        if let demo = external.demo { details.merge(["demo_session_id": demo.sessionID, "subject": external.subject]) { $1 } }
        try await tokens.admitSignIn(of: user, mfaVerified: external.mfaVerified, from: address)
        let issuing: (token: String, expiresAt: Date)
        do {
            issuing = try await issueToken(for: user, as: external, details: details, from: address)
        } catch let gone as LinkGone {
            try await refused(method: method, reason: gone.reason, detail: gone.error.detail, identity: external, from: address)
            throw gone.error
        }
        let (token, expiresAt) = issuing
        metrics.signedIn(method: "sso")
        let organization = try await user.organizationID.asyncFlatMap { try await store.organization(id: $0) }
        return SignIn.Grant(user: user, organization: organization, token: token, expiresAt: expiresAt)
    }

    /// The account is no longer linked to the identity signing in, or was disabled, since it was
    /// read: a reclaim by the identity that proved its address, or a disabling, committed meanwhile.
    private struct LinkGone: Error {
        let reason: String
        let error: DomainError
    }

    /// Within one change: the token, if `user` as stored is still linked to `external` and
    /// enabled (else `LinkGone`: a token issued now would outlive what that change took away,
    /// as `SignIn.requireStillProven` guards a password sign-in), and its `sso_login` entry.
    private func issueToken(
        for user: User, as external: ExternalIdentity, details: [String: String], from address: String
    ) async throws -> (token: String, expiresAt: Date) {
        try await audit.change {
            // A demo's visitor signs in to the demo's own account, linked to no identity.
            guard let stored = try await store.user(id: user.id),
                external.demo != nil || (stored.ssoProvider == external.provider && stored.ssoSubject == external.subject)
            else {
                throw LinkGone(reason: "account_conflict", error: AccountLinking.linkedToAnotherSignIn)
            }
            guard !stored.disabled else { throw LinkGone(reason: "not_allowed", error: .forbidden("Account is disabled")) }
            let issued = try await tokens.issueToken(
                for: user, mfaVerified: external.mfaVerified, notAfter: external.demo?.expiresAt ?? .distantFuture,
                claims: external.claims)
            try await audit.record(.ssoLogin, by: .account(user), from: address, resource: ("user", user.id), details: details)
            return issued
        }
    }

    /// Records a provider sign-in that was refused: `sso_login_failed` with the method and the
    /// reason (a `TokenRejection` or `SignInFailure` code), counted in `auth_failures_total`.
    /// The first refusal of a minute from one client (an IPv4 address, an IPv6 /64) for one reason
    /// is audited; the rest are only counted.
    ///
    /// - Parameter identity: the identity the provider vouched for, when the refusal came after
    ///   its token was verified (a disabled account, no role, an address that may not be linked):
    ///   the entry then names the account linked to it (else the address it claims, which names
    ///   no account: an unverified address equal to another's must not write in their name), and the
    ///   minute's first refusal is judged per identity, so one person's refusal never hides
    ///   another's. Only a token the provider signed gets this far.
    public func refused(
        method: String, reason: String, detail: String? = nil, identity: ExternalIdentity? = nil, from address: String
    ) async throws {
        metrics.authenticationFailed(reason: reason)
        var key = AddressRange.clientKey(forAddress: address) + "\n" + reason
        if let identity { key += "\n" + identity.provider + "\n" + identity.subject }
        guard await refusalsAudited.admit(key) == nil else { return }
        var details = ["method": method, "reason": reason]
        if let detail { details["detail"] = detail }
        var actor = AuditActor.anonymous(claimedEmail: nil)
        if let identity {
            details["subject"] = identity.subject
            actor = .anonymous(claimedEmail: identity.email)
            if let account = try await linkedAccount(of: identity) { actor = .account(account) }
        }
        try await audit.record(.ssoLoginFailed, by: actor, from: address, success: false, details: details)
    }

    /// The account linked to `identity`'s provider and subject, under the provider's spelling or
    /// one it had before (`ExternalIdentity.formerProviderSpellings`).
    private func linkedAccount(of identity: ExternalIdentity) async throws -> User? {
        if let linked = try await store.user(ssoProvider: identity.provider, subject: identity.subject) { return linked }
        for spelling in identity.formerProviderSpellings {
            if let linked = try await store.user(ssoProvider: spelling, subject: identity.subject) { return linked }
        }
        return nil
    }

    /// The NeoSC account `external` stands for: linked, linked now (verified e-mail), or
    /// provisioned just in time; kept in step with the role and name the provider grants.
    /// Provisioning, linking and role changes are audited.
    ///
    /// An identity bound to a demo (`neosc:demo_session_id`) acts as that demo's visitor: the
    /// demo's own `demo-user` account, so it sees only the demo's workspace, and everything that
    /// ends the demo (expiry, an early end, its clean-up evicting and revoking the visitor's
    /// credentials) ends it too, at once. A binding to a demo that is over, or that NeoSC does
    /// not know, is refused: a demo user's access exists only through an active demo.
    public func account(for external: ExternalIdentity, from address: String) async throws -> User {
        let now = clock.now()
        if let binding = external.demo {
            if binding.expiresAt <= now { throw TokenRejection.demoExpired }
            guard external.role != nil else { throw AccountLinking.noRoleGranted }
            guard let demo = try await store.demo(id: binding.sessionID), demo.grantsAccess(at: now),
                let visitor = try await store.user(id: demo.userID), visitor.role == .demoUser, !visitor.disabled
            else { throw TokenRejection.demoExpired }
            return visitor
        } else if external.role == .demoUser {
            // A provider's demo-user role alone would be a demo without end.
            throw DomainError.forbidden("A demo-user identity must carry neosc:demo_session_id and neosc:demo_expires_at")
        }
        let linked = try await linkedAccount(of: external)
        let sameEmail = linked == nil ? try await external.email.asyncFlatMap { try await store.user(email: $0) } : nil
        switch try AccountLinking.decide(external, linked: linked, sameEmail: sameEmail) {
        case .provision:
            let user = AccountLinking.provision(external, id: Identifier.make("usr"), at: now)
            do {
                try await audit.change {
                    try await store.insert(user, creating: nil)
                    try await audit.record(
                        .ssoUserProvisioned, by: .account(user), from: address, resource: ("user", user.id),
                        details: [
                            "provider": external.provider, "role": user.role.rawValue,
                            "address_unverified": String(user.addressUnverified),
                        ])
                }
            } catch DomainError.conflict {
                // A concurrent first sign-in (another request, another replica) won the race.
                if let raced = try await store.user(ssoProvider: external.provider, subject: external.subject) {
                    return raced
                }
                throw DomainError.conflict("An account with this e-mail address already exists")
            }
            return user
        case .signIn(let user), .link(let user):
            let updated = AccountLinking.applying(external, to: user, at: now)
            guard updated != user else { return user }
            // The provider's word changes the role, but never removes the last administrator:
            // that sign-in is refused (409) and the account stays as it is. A role it takes away
            // ends the sessions that role allowed, as an administrator's change does.
            let ended: [WorkspaceSession] = try await audit.change {
                // Still linked as it was read (to this identity, or to none for a link): a reclaim
                // that committed meanwhile gave it to the identity that proved its address.
                guard let stored = try await store.user(id: user.id), stored.ssoProvider == user.ssoProvider,
                    stored.ssoSubject == user.ssoSubject
                else { throw AccountLinking.linkedToAnotherSignIn }
                try await store.updateKeepingAnAdministrator(updated, from: user)
                let ended = updated.role == user.role ? [] : try await SessionsOutlivingAccess.end(of: updated, in: store, at: now)
                var details = ["role": updated.role.rawValue]
                if !ended.isEmpty { details["sessions_terminated"] = String(ended.count) }
                if user.addressUnverified && !updated.addressUnverified { details["address_proved"] = "true" }
                if user.ssoSubject == nil {
                    details["provider"] = external.provider
                    try await audit.record(
                        .ssoAccountLinked, by: .account(updated), from: address, resource: ("user", user.id), details: details)
                } else {
                    details.merge([
                        "by": external.provider, "previous_role": user.role.rawValue, "mfa_enabled": String(updated.mfaEnabled),
                    ]) { $1 }
                    if user.ssoProvider != updated.ssoProvider { details["previous_provider"] = user.ssoProvider ?? "" }
                    try await audit.record(.updateUser, by: .account(updated), from: address, resource: ("user", user.id), details: details)
                }
                return ended
            }
            tokenCache.evict(userID: user.id)
            if !ended.isEmpty { await sessions.ended(ended) }
            return updated
        case .reclaim(let user):
            return try await reclaim(user, for: external, from: address, at: now)
        case .withdraw(let user):
            try await withdrawAccess(of: user, by: external.provider, from: address, at: now)
            throw AccountLinking.noRoleGranted
        }
    }

    /// Links a self-registered account to the identity that proved its address, and takes away
    /// in the same change what its registrant set on it or holds: its password, its second
    /// factor and the sign-ins it had begun, its NetBird peer, its tokens and its sessions
    /// (`AccountLinking.Decision.reclaim`).
    private func reclaim(_ user: User, for external: ExternalIdentity, from address: String, at now: Date) async throws -> User {
        let (updated, ended): (User, [WorkspaceSession]) = try await audit.change {
            // Decided on the account as read before the change: still unproven and linked as it was
            // (to nobody, this identity, or the unverified one it was made for), or another
            // identity's reclaim came first and this one is refused.
            guard let stored = try await store.user(id: user.id), stored.selfRegistered || stored.addressUnverified,
                stored.ssoSubject == nil || (stored.ssoProvider == user.ssoProvider && stored.ssoSubject == user.ssoSubject)
            else { throw AccountLinking.linkedToAnotherSignIn }
            // From the account as stored now, not as read: what its first holder's sign-in wrote
            // meanwhile (a role, a name) goes too (the probe of the mends).
            let updated = Self.reclaimed(stored, for: external, at: now)
            let secondFactorRemoved = try await store.removeEnrollment(userID: user.id, matching: nil, at: now)
            try await store.removeMFAChallenges(userID: user.id)
            if stored.netbirdPeerID != nil { _ = try await store.setNetbirdPeer(userID: user.id, peerID: nil, at: now) }
            _ = try await store.setPassword(
                userID: user.id, hash: nil, mustChange: false, at: now, requireEnabled: false, replacing: nil)
            // As the removal left it; the provider's word (`amr`) then says whether it has one.
            var withoutSecondFactor = stored
            withoutSecondFactor.mfaEnabled = false
            try await store.updateKeepingAnAdministrator(updated, from: withoutSecondFactor)
            let ended = try await store.endAll(userID: user.id, .accessRevoked, at: now)
            let revoked = try await store.revokeAll(userID: user.id, at: now)
            try await audit.record(
                .ssoAccountLinked, by: .account(updated), from: address, resource: ("user", user.id),
                details: [
                    "provider": external.provider, "role": updated.role.rawValue, "self_registered": String(stored.selfRegistered),
                    "address_unverified": String(stored.addressUnverified),
                    "password_removed": String(stored.passwordHash != nil), "second_factor_removed": String(secondFactorRemoved),
                    "tokens_revoked": String(revoked), "sessions_terminated": String(ended.count),
                    "netbird_peer_removed": String(stored.netbirdPeerID != nil),
                ].merging(
                    // Taken from another identity (one whose provider had not verified the address).
                    stored.ssoSubject.flatMap {
                        $0 == external.subject && stored.ssoProvider == external.provider
                            ? nil : ["previous_provider": stored.ssoProvider ?? "", "previous_subject": $0]
                    } ?? [:]
                ) { $1 })
            return (updated, ended)
        } afterwards: {
            tokenCache.evict(userID: user.id)
        }
        if !ended.isEmpty { await sessions.ended(ended) }
        // Reclaimed, and still disabled: refused as any disabled account's sign-in is.
        guard !updated.disabled else { throw DomainError.forbidden("Account is disabled") }
        return updated
    }

    /// `stored` as the identity that proved its address takes it: without what its first holder
    /// set (a password, a name of their choosing: the provider's name, else the address's own),
    /// with the provider's role and link.
    private static func reclaimed(_ stored: User, for external: ExternalIdentity, at now: Date) -> User {
        var base = stored
        base.passwordHash = nil
        base.mustChangePassword = false
        base.name = AccountLinking.name(of: external)
        return AccountLinking.applying(external, to: base, at: now)
    }

    /// Ends `user`'s active sessions and revokes its tokens, in one change audited
    /// `sso_access_withdrawn`; a change only when there is something to withdraw, so that an
    /// identity refused on every request (behind Pomerium) does not write an entry each time.
    private func withdrawAccess(of user: User, by provider: String, from address: String, at now: Date) async throws {
        let ended: [WorkspaceSession] = try await audit.change {
            let ended = try await store.endAll(userID: user.id, .accessRevoked, at: now)
            let revoked = try await store.revokeAll(userID: user.id, at: now)
            guard !ended.isEmpty || revoked > 0 else { return [] }
            try await audit.record(
                .ssoAccessWithdrawn, by: .account(user), from: address, resource: ("user", user.id),
                details: ["by": provider, "sessions_terminated": String(ended.count), "tokens_revoked": String(revoked)])
            return ended
        } afterwards: {
            tokenCache.evict(userID: user.id)
        }
        if !ended.isEmpty { await sessions.ended(ended) }
    }

    /// The identity a request acts with after `external` was verified with credential `digest`.
    /// The credential lasts no longer than the provider's token, nor past a bound demo's end.
    func identity(for external: ExternalIdentity, user: User, digest: String) async throws -> Identity {
        var expiresAt = external.expiresAt
        if let demo = external.demo { expiresAt = min(expiresAt, demo.expiresAt) }
        let principal = Principal(
            userID: user.id, email: user.email, name: user.name, role: user.role, organizationID: user.organizationID,
            mfaVerified: external.mfaVerified, credentialDigest: digest, credentialExpiresAt: expiresAt,
            claims: external.claims)
        let organization = try await user.organizationID.asyncFlatMap { try await store.organization(id: $0) }
        return Identity(principal: principal, user: user, organization: organization)
    }

    /// The cached identity for credential `digest`, or the account `verify` vouches for, cached
    /// until the cache's lifetime or the credential's own expiry (unless an eviction raced the
    /// lookup). `source` labels the verifications counted in `identity_verifications_total`.
    public func identity(
        cachedAs digest: String, source: String, from address: String, verify: () async throws -> ExternalIdentity
    ) async throws -> Identity {
        if let cached = tokenCache.identity(forDigest: digest), clock.now() < cached.principal.credentialExpiresAt {
            return cached
        }
        let ticket = tokenCache.fillTicket()
        metrics.identityVerified(source: source)
        let external = try await verify()
        let user = try await account(for: external, from: address)
        if let session = external.session { try await recordSignIn(session, of: external, as: user, from: address) }
        let identity = try await identity(for: external, user: user, digest: digest)
        tokenCache.remember(identity, ticket: ticket)
        return identity
    }

    /// A provider session (Pomerium's `sid`) seen for the first time, by any process, is a
    /// sign-in: audited as `sso_login` (method `pomerium`) and counted in `auth_sign_ins_total`
    /// and the dashboard's `logins_24h`, once however many requests and replicas it reaches.
    private func recordSignIn(_ session: String, of external: ExternalIdentity, as user: User, from address: String) async throws {
        guard await sessionsSeen.attempts(session) == 0 else { return }
        let now = clock.now()
        let digest = BearerCredential.digest("provider-session\n" + external.provider + "\n" + session)
        // Remembered here only once the store has answered: a failed redeem is tried again. The
        // redemption and its entry commit together.
        let first = try await audit.change {
            guard try await store.redeem(nonce: digest, until: now.addingTimeInterval(86_400), at: now) else { return false }
            try await audit.record(
                .ssoLogin, by: .account(user), from: address, resource: ("user", user.id),
                details: ["method": external.provider, "provider": external.provider, "mfa": String(external.mfaVerified)])
            return true
        }
        await sessionsSeen.record(session)
        guard first else { return }
        metrics.signedIn(method: external.provider)
    }
}
