import Foundation

/// Which NeoSC account an identity vouched for by a provider signs in to. The provider is the
/// source of truth for the role of the accounts it vouches for; an account that already exists
/// with the same e-mail is taken over only when the provider verified that address, otherwise
/// whoever controls a provider account could claim any local account by typing its address.
public enum AccountLinking {
    public enum Decision: Sendable, Equatable {
        /// The account already linked to this provider subject.
        case signIn(User)
        /// An existing account with the same, verified e-mail, to be linked now.
        case link(User)
        /// An existing account with the same, verified e-mail whose address nothing proved
        /// (`User.selfRegistered`: someone registered it; `User.addressUnverified`: it was
        /// provisioned for a provider identity whose provider said it had not verified the
        /// address): the provider's proof outranks theirs. It is linked now, and what its registrant set or holds goes with the link: its
        /// password, its second factor, its tokens and its sessions. Otherwise whoever registered
        /// an address first would keep a way in to the account its owner later signs in to, with
        /// the role the provider gives the owner. A disabled account is reclaimed too, and stays
        /// disabled: the sign-in is then refused.
        case reclaim(User)
        /// No account yet: provision one just in time.
        case provision
        /// The account already linked to this provider subject, to which the provider grants no
        /// NeoSC role any more: what it holds (its active sessions, its tokens) is withdrawn, and
        /// the sign-in refused (`noRoleGranted`). Its role stays as it was, for the provider to
        /// grant again; an account with a local password can still sign in with it.
        case withdraw(User)
    }

    /// The refusal of an identity whose address belongs to an account linked to another one.
    public static let linkedToAnotherSignIn = DomainError.conflict(
        "This e-mail address belongs to an account linked to another sign-in")

    /// The refusal of an identity to which the provider granted no NeoSC role.
    public static let noRoleGranted = DomainError.forbidden("The identity provider granted no NeoSC role (admin, neosc, user or demo-user)")

    /// - Parameters:
    ///   - linked: the account already linked to `identity.provider` + `identity.subject`, if any.
    ///   - sameEmail: the account with `identity.email`, if any.
    public static func decide(
        _ identity: ExternalIdentity, linked: User?, sameEmail: User?
    ) throws(DomainError)
        -> Decision
    {
        guard identity.role != nil else {
            if let linked { return .withdraw(linked) }
            throw noRoleGranted
        }
        if let linked {
            // Linked before self-registered accounts were reclaimed, with the registrant's password
            // still on it: reclaimed now (disabled or not, as below).
            if linked.selfRegistered, linked.passwordHash != nil { return .reclaim(linked) }
            guard !linked.disabled else { throw .forbidden("Account is disabled") }
            return .signIn(linked)
        }
        guard let email = identity.email else {
            throw .forbidden("The identity provider sent no e-mail address for this account")
        }
        // Demo visitors' accounts are NeoSC's own, at a domain no one else's address may be at: a
        // provider's identity there would pass for a visitor, or take a visitor's account over
        // and keep it past its demo.
        guard Validation.isAtDemoAccountDomain(email) == false else {
            throw .forbidden("Addresses at \(Validation.demoAccountDomain) are demo visitors' own; the identity provider's cannot be one")
        }
        guard let sameEmail else { return .provision }
        guard sameEmail.role != .demoUser else {
            throw .conflict("This e-mail address belongs to a demo visitor's account")
        }
        // Linked to another identity: that identity keeps it, unless nothing proved it owns the
        // address and this one's provider did (a provider that lets people sign up without
        // confirming their address would otherwise let anyone hold any future user's address).
        guard sameEmail.ssoSubject == nil || (sameEmail.addressUnverified && identity.emailVerified) else {
            throw linkedToAnotherSignIn
        }
        guard identity.emailVerified else {
            throw .forbidden(
                "An account with this e-mail address exists; the identity provider must verify the address before it can be linked"
            )
        }
        // A self-registered account is reclaimed even while disabled: its registrant's way in goes,
        // and it stays disabled (the sign-in is refused) until an administrator enables it, which
        // is then safe. Otherwise disabling a squatted account would lock its owner out for good.
        if sameEmail.selfRegistered || sameEmail.addressUnverified { return .reclaim(sameEmail) }
        guard !sameEmail.disabled else { throw .forbidden("Account is disabled") }
        return .link(sameEmail)
    }

    /// The name an account of `identity` gets: the provider's, else its address's own (the part
    /// before `@`), else the address.
    public static func name(of identity: ExternalIdentity) -> String {
        let email = identity.email ?? ""
        return identity.name.flatMap(Validation.providerName)
            ?? Validation.providerName(String(email.split(separator: "@").first ?? "")) ?? email
    }

    /// `user` as the provider describes it now: its role and name, linked to the provider
    /// subject; its address proved when the provider verified it.
    public static func applying(_ identity: ExternalIdentity, to user: User, at now: Date) -> User {
        var updated = user
        if let role = identity.role { updated.role = role }
        if identity.emailVerified, identity.email == user.email { updated.addressUnverified = false }
        if let name = identity.name.flatMap(Validation.providerName) { updated.name = name }
        updated.ssoProvider = identity.provider
        updated.ssoSubject = identity.subject
        // An account without a password signs in only through the provider: whether it has a
        // second factor is what the provider's latest sign-in said (`amr`). One with a password
        // keeps its own (a confirmed TOTP enrolment), since the password alone would bypass the
        // provider's.
        if user.passwordHash == nil { updated.mfaEnabled = identity.mfaVerified }
        if updated != user { updated.updatedAt = now }
        return updated
    }

    /// A new account for `identity`; it has no password, so it can only sign in through the provider.
    public static func provision(_ identity: ExternalIdentity, id: String, at now: Date) -> User {
        User(
            id: id, email: identity.email ?? "", name: name(of: identity), organizationID: nil, role: identity.role ?? .user, passwordHash: nil,
            mfaEnabled: identity.mfaVerified, ssoProvider: identity.provider, ssoSubject: identity.subject,
            addressUnverified: identity.emailUnverified, createdAt: now, updatedAt: now)
    }
}
