import Actors
import Domain
import Foundation

extension Portal {
    /// The NeoSC account an identity provider vouched for: linked, linked now (verified e-mail),
    /// or provisioned just in time; kept in step with the role and name the provider grants.
    /// Provisioning, linking and role changes are audited.
    ///
    /// An identity bound to a demo (`neosc:demo_session_id`) acts as that demo's visitor: the
    /// demo's own `demo-user` account, so it sees only the demo's workspace, and everything that
    /// ends the demo (expiry, an early end, its clean-up evicting and revoking the visitor's
    /// credentials) ends it too, at once. A binding to a demo that is over, or that NeoSC does
    /// not know, is refused: a demo user's access exists only through an active demo.
    func account(for external: ExternalIdentity, in context: PortalRequestContext) async throws -> User {
        let now = clock.now()
        if let binding = external.demo {
            if binding.expiresAt <= now { throw TokenRejection.demoExpired }
            guard external.role != nil else {
                throw DomainError.forbidden("The identity provider granted no NeoSC role (admin, neosc, user or demo-user)")
            }
            guard let demo = try await store.demo(id: binding.sessionID), demo.grantsAccess(at: now),
                let visitor = try await store.user(id: demo.userID), visitor.role == .demoUser, !visitor.disabled
            else { throw TokenRejection.demoExpired }
            return visitor
        } else if external.role == .demoUser {
            // A provider's demo-user role alone would be a demo without end.
            throw DomainError.forbidden("A demo-user identity must carry neosc:demo_session_id and neosc:demo_expires_at")
        }
        let linked = try await store.user(ssoProvider: external.provider, subject: external.subject)
        let sameEmail = linked == nil ? try await external.email.asyncFlatMap { try await store.user(email: $0) } : nil
        switch try AccountLinking.decide(external, linked: linked, sameEmail: sameEmail) {
        case .provision:
            let user = AccountLinking.provision(external, id: Identifier.make("usr"), at: now)
            do {
                try await store.insert(user, creating: nil)
            } catch DomainError.conflict {
                // A concurrent first sign-in (another request, another replica) won the race.
                if let raced = try await store.user(ssoProvider: external.provider, subject: external.subject) {
                    return raced
                }
                throw DomainError.conflict("An account with this e-mail address already exists")
            }
            try await audit(
                .ssoUserProvisioned, by: .account(user), in: context,
                resource: ("user", user.id), details: ["provider": external.provider, "role": user.role.rawValue])
            return user
        case .signIn(let user), .link(let user):
            let updated = AccountLinking.applying(external, to: user, at: now)
            guard updated != user else { return user }
            try await store.update(updated)
            await tokenCache.evict(userID: user.id)
            if user.ssoSubject == nil {
                try await audit(
                    .ssoAccountLinked, by: .account(updated), in: context, resource: ("user", user.id),
                    details: ["provider": external.provider, "role": updated.role.rawValue])
            } else {
                try await audit(
                    .updateUser, by: .account(updated), in: context, resource: ("user", user.id),
                    details: [
                        "by": external.provider, "role": updated.role.rawValue, "previous_role": user.role.rawValue,
                    ])
            }
            return updated
        }
    }

    /// The identity a request acts with after `external` was verified with credential `digest`.
    /// The credential lasts no longer than the provider's token, nor past a bound demo's end.
    func identity(for external: ExternalIdentity, user: User, digest: String) async throws -> Identity {
        var expiresAt = external.expiresAt
        if let demo = external.demo { expiresAt = min(expiresAt, demo.expiresAt) }
        let principal = Principal(
            userID: user.id, email: user.email, name: user.name, role: user.role, organizationID: user.organizationID,
            mfaVerified: external.mfaVerified, credentialDigest: digest, credentialExpiresAt: expiresAt)
        let organization = try await user.organizationID.asyncFlatMap { try await store.organization(id: $0) }
        return Identity(principal: principal, user: user, organization: organization)
    }
}
