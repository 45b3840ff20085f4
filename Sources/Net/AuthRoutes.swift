import Actors
import Domain
import Foundation
import Hummingbird

/// `/api/auth`: local accounts — register, login, logout, me.
struct AuthRoutes {
    let portal: Portal

    struct Registration: Decodable {
        var email: String
        var password: String
        var name: String
        var organization: String?
    }

    struct Credentials: Decodable {
        var email: String
        var password: String
    }

    struct SignedIn: Encodable, Sendable {
        var accessToken: String
        var tokenType = "bearer"
        var expiresAt: Date
        var user: UserView
    }

    struct SignedOut: Encodable, Sendable {
        var message: String
        var sessionsTerminated: Int
    }

    func register(open: RouterGroup<PortalRequestContext>, signedIn: RouterGroup<SignedInContext>) {
        open.post("register", use: register)
        open.post("login", use: login)
        signedIn.post("logout", use: logout)
        signedIn.get("me", use: me)
    }

    @Sendable func register(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<SignedIn> {
        guard portal.settings.allowRegistration else {
            throw DomainError.forbidden("Registration is disabled; ask an administrator for an account")
        }
        // Every attempt counts, successful or not: each costs a bcrypt, and accounts are cheap to spray.
        if let retryAfter = await portal.registrationThrottle.retryAfter(context.clientAddress) {
            throw DomainError.rateLimited("Too many registrations from this address; try again later", retryAfterSeconds: retryAfter)
        }
        await portal.registrationThrottle.record(context.clientAddress)
        let body = try await request.decodeJSON(Registration.self, context: context)
        let email = try Validation.normalisedEmail(body.email)
        try Validation.requireValidPassword(body.password)
        let name = try Validation.text(body.name, field: "name")
        let now = portal.clock.now()

        var organization: Organization?
        var newOrganization: Organization?
        if let requested = body.organization.map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }),
            !requested.isEmpty
        {
            let organizationName = try Validation.text(requested, field: "organization")
            switch try OrganizationMembership.decide(
                name: organizationName, email: email,
                existing: try await portal.store.organization(named: organizationName), newID: Identifier.make("org"), at: now)
            {
            case .join(let existing):
                organization = existing
            case .found(let founded):
                newOrganization = founded
                organization = founded
            }
        }

        let user = User(
            id: Identifier.make("usr"), email: email, name: name, organizationID: organization?.id, role: .user,
            passwordHash: try await portal.passwords.hash(body.password), createdAt: now, updatedAt: now)
        try await portal.store.insert(user, creating: newOrganization)
        var details = ["role": user.role.rawValue]
        if let organization { details["organization"] = organization.name }
        if let newOrganization { details["organization_created"] = newOrganization.id }
        try await portal.audit(.register, by: .account(user), in: context, resource: ("user", user.id), details: details)

        let (token, expiresAt) = try await portal.issueToken(for: user, mfaVerified: false)
        return JSONBody(
            SignedIn(accessToken: token, expiresAt: expiresAt, user: UserView(user, organization: organization)),
            status: .created)
    }

    @Sendable func login(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<SignedIn> {
        let body = try await request.decodeJSON(Credentials.self, context: context)
        let email = body.email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        for (throttle, key) in [(portal.accountThrottle, email), (portal.addressThrottle, context.clientAddress)] {
            if let retryAfter = await throttle.retryAfter(key) {
                portal.metrics.authenticationFailed(reason: "throttled")
                try await portal.audit(
                    .loginFailed, by: .anonymous(claimedEmail: email), in: context, success: false, details: ["reason": "throttled"])
                throw DomainError.rateLimited("Too many failed logins; try again later", retryAfterSeconds: retryAfter)
            }
        }

        let user = email.utf8.count <= 254 ? try await portal.store.user(email: email) : nil
        let passwordMatches = try await portal.passwords.verify(body.password, against: user?.passwordHash)
        // A demo user's access exists only through an active demo: without one it is refused like
        // a disabled account (the same answer, so the refusal tells nobody the password was right).
        var withoutDemo = false
        if let user, passwordMatches, user.role == .demoUser {
            let demo = try await portal.store.demo(userID: user.id)
            withoutDemo = (try? DemoAccess.requireActive(role: user.role, demo: demo, at: portal.clock.now())) == nil
        }
        guard let user, passwordMatches, !user.disabled, !withoutDemo else {
            let reason =
                if user == nil {
                    "unknown_email"
                } else if !passwordMatches {
                    "wrong_password"
                } else if user?.disabled == true {
                    "account_disabled"
                } else {
                    "no_active_demo"
                }
            portal.metrics.authenticationFailed(reason: reason)
            await portal.accountThrottle.record(email)
            await portal.addressThrottle.record(context.clientAddress)
            try await portal.audit(
                .loginFailed, by: .anonymous(claimedEmail: email), in: context, success: false, resource: user.map { ("user", $0.id) },
                details: ["reason": reason])
            throw DomainError.invalidCredentials
        }
        await portal.accountThrottle.reset(email)

        let (token, expiresAt) = try await portal.issueToken(for: user, mfaVerified: false)
        try await portal.audit(.login, by: .account(user), in: context, resource: ("user", user.id), details: ["method": "password"])
        let organization = try await user.organizationID.asyncFlatMap { try await portal.store.organization(id: $0) }
        return JSONBody(SignedIn(accessToken: token, expiresAt: expiresAt, user: UserView(user, organization: organization)))
    }

    @Sendable func logout(_ request: Request, context: SignedInContext) async throws -> JSONBody<SignedOut> {
        let principal = context.principal
        let now = portal.clock.now()
        _ = try await portal.store.revoke(digest: principal.credentialDigest, at: now)
        await portal.tokenCache.evict(digest: principal.credentialDigest)
        let ended = try await portal.store.endAll(userID: principal.userID, .logout, at: now)
        await portal.forget(ended)
        try await portal.audit(
            .logout, by: .principal(principal), in: context, resource: ("user", principal.userID),
            details: ["sessions_terminated": String(ended.count)])
        return JSONBody(SignedOut(message: "Logged out", sessionsTerminated: ended.count))
    }

    /// The caller's account as the identity cache holds it: every change to an account through
    /// NeoSC evicts its tokens, so this is current without a store read.
    @Sendable func me(_ request: Request, context: SignedInContext) async throws -> JSONBody<UserView> {
        let identity = context.identity
        return JSONBody(UserView(identity.user, organization: identity.organization))
    }
}

extension Optional {
    func asyncFlatMap<U>(_ transform: (Wrapped) async throws -> U?) async rethrows -> U? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
