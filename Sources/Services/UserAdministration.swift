import Actors
import Domain
import Foundation

/// Accounts as administrators manage them, the same through the API and `neosc admin`: roles,
/// disabling, and administrators made outside the API. Every change keeps an active
/// administrator, takes effect on the account's next request, and is audited.
public struct UserAdministration: Sendable {
    private let store: any Store
    private let passwords: any PasswordHashing
    private let tokenCache: TokenCache
    private let sessions: SessionRegistry
    private let audit: AuditTrail
    private let clock: WallClock

    public init(
        store: any Store, passwords: any PasswordHashing, tokenCache: TokenCache, sessions: SessionRegistry,
        audit: AuditTrail, clock: WallClock
    ) {
        self.store = store
        self.passwords = passwords
        self.tokenCache = tokenCache
        self.sessions = sessions
        self.audit = audit
        self.clock = clock
    }

    /// What to change; nil leaves a field as it is.
    public struct Change: Sendable {
        public var role: Role?
        public var disabled: Bool?
        public var membership: OrganizationMembership.Assignment?

        public init(role: Role? = nil, disabled: Bool? = nil, membership: OrganizationMembership.Assignment? = nil) {
            self.role = role
            self.disabled = disabled
            self.membership = membership
        }
    }

    /// Changes the account with `userID`. Disabling also revokes every token and ends every session.
    public func change(
        userID: String, _ change: Change, by actor: AuditActor, from address: String? = nil
    ) async throws -> User {
        guard change.role != nil || change.disabled != nil || change.membership != nil else {
            throw DomainError.invalid("Send at least one of 'role', 'disabled' and 'organization_id'")
        }
        guard var user = try await store.user(id: userID) else { throw DomainError.notFound("User not found") }
        let before = user
        let role = change.role ?? user.role
        let disabled = change.disabled ?? user.disabled
        if let role = change.role { try AccessRules.requireRoleChange(from: user.role, to: role) }
        switch change.membership {
        case nil: break
        case .noOrganization?: user.organizationID = nil
        case .member(let organizationID)?:
            guard user.role != .demoUser else {
                throw DomainError.conflict("A demo visitor's account belongs to no organization")
            }
            guard try await store.organization(id: organizationID) != nil else {
                throw DomainError.invalid("Field 'organization_id' names no organization")
            }
            user.organizationID = organizationID
        }
        try AccessRules.requireAdminRemains(
            changing: user, toRole: role, disabled: disabled, activeAdmins: try await store.activeAdminCount())

        user.role = role
        user.disabled = disabled
        // Asking for what already holds changes nothing, so nothing is written or audited.
        guard user != before else { return before }
        let now = clock.now()
        user.updatedAt = now
        // The change, a disabled account's revocations and its entry commit together.
        let ended: [WorkspaceSession] = try await audit.change {
            // Checked above for a clear answer; the store checks again atomically with the write.
            try await store.updateKeepingAnAdministrator(user, from: before)
            var details: [String: String] = [:]
            if before.role != user.role { details["role"] = "\(before.role.rawValue)->\(user.role.rawValue)" }
            if before.disabled != user.disabled { details["disabled"] = String(user.disabled) }
            if before.organizationID != user.organizationID {
                details["organization"] = "\(before.organizationID ?? "none")->\(user.organizationID ?? "none")"
            }
            var ended: [WorkspaceSession] = []
            if user.disabled && !before.disabled {
                details["tokens_revoked"] = String(try await store.revokeAll(userID: user.id, at: now))
                // Nor may a sign-in begun before the disabling go on after an enabling.
                try await store.removeMFAChallenges(userID: user.id)
                ended = try await store.endAll(userID: user.id, .userDisabled, at: now)
                details["sessions_terminated"] = String(ended.count)
            } else if user.role != before.role {
                // The new role takes effect on the sessions running too.
                ended = try await SessionsOutlivingAccess.end(of: user, in: store, at: now)
                if !ended.isEmpty { details["sessions_terminated"] = String(ended.count) }
            }
            try await audit.record(.updateUser, by: actor, from: address, resource: ("user", user.id), details: details)
            return ended
        } afterwards: {
            tokenCache.evict(userID: user.id)
        }
        if !ended.isEmpty { await sessions.ended(ended) }
        return user
    }

    /// Changes the account with `email` (the command line names accounts by e-mail).
    public func change(email rawEmail: String, _ change: Change, by actor: AuditActor) async throws -> User {
        let email = try Validation.normalisedEmail(rawEmail)
        guard let user = try await store.user(email: email) else {
            throw DomainError.notFound("No account with e-mail \(email)")
        }
        return try await self.change(userID: user.id, change, by: actor)
    }

    /// Resets the password of the account with `userID` to `password`, or to a generated one
    /// (returned, to hand over once), and obliges the account to choose its own at its next
    /// sign-in. Every token of the account is revoked and every workspace session ended. Accounts that sign in only through an
    /// identity provider have no password to reset (409), nor do demo visitors' accounts, which
    /// last as long as their demo (409: a password would let one sign in beside its demo's token,
    /// with a token of a full lifetime).
    public func resetPassword(
        userID: String, to password: Secret? = nil, by actor: AuditActor, from address: String? = nil
    ) async throws -> String {
        guard let user = try await store.user(id: userID) else { throw DomainError.notFound("User not found") }
        guard user.role != .demoUser else {
            throw DomainError.conflict("A demo visitor's account has no password: it lasts as long as its demo")
        }
        guard user.passwordHash != nil || user.ssoSubject == nil else {
            throw DomainError.conflict("This account signs in through an identity provider; reset its password there")
        }
        let temporary = password?.value ?? Self.generatedPassword()
        try Validation.requireValidPassword(temporary)
        let hash = try await passwords.hash(temporary)
        let now = clock.now()
        let ended: [WorkspaceSession] = try await audit.change {
            guard try await store.setPassword(userID: user.id, hash: hash, mustChange: true, at: now, requireEnabled: false, replacing: nil) else {
                throw DomainError.notFound("User not found")
            }
            let revoked = try await store.revokeAll(userID: user.id, at: now)
            // Nor may a sign-in's second step that the old password opened go on.
            try await store.removeMFAChallenges(userID: user.id)
            // Whoever knew the old password may be in a workspace with it: those sessions end too.
            let ended = try await store.endAll(userID: user.id, .passwordReset, at: now)
            try await audit.record(
                .passwordReset, by: actor, from: address, resource: ("user", user.id),
                details: ["tokens_revoked": String(revoked), "sessions_terminated": String(ended.count)])
            return ended
        } afterwards: {
            tokenCache.evict(userID: user.id)
        }
        if !ended.isEmpty { await sessions.ended(ended) }
        return temporary
    }

    /// The account with `email` (the command line names accounts by e-mail); see `resetPassword(userID:)`.
    public func resetPassword(email rawEmail: String, to password: Secret, by actor: AuditActor) async throws {
        let email = try Validation.normalisedEmail(rawEmail)
        guard let user = try await store.user(email: email) else { throw DomainError.notFound("No account with e-mail \(email)") }
        _ = try await resetPassword(userID: user.id, to: password, by: actor)
    }

    /// Unlocks the sign-ins of the account `userID`: records a `LoginUnlock` that every server
    /// process applies to its failed-login counts (`SignIn.apply`), and audits it.
    public func unlockSignIns(userID: String, by actor: AuditActor, from address: String? = nil) async throws -> LoginUnlock {
        guard let user = try await store.user(id: userID) else { throw DomainError.notFound("User not found") }
        let unlock = LoginUnlock(email: user.email, at: clock.now())
        try await audit.change {
            try await store.insert(unlock)
            try await audit.record(.clearLoginThrottle, by: actor, from: address, resource: ("user", user.id))
        }
        return unlock
    }

    public func unlockSignIns(email rawEmail: String, by actor: AuditActor) async throws -> LoginUnlock {
        let email = try Validation.normalisedEmail(rawEmail)
        guard let user = try await store.user(email: email) else { throw DomainError.notFound("No account with e-mail \(email)") }
        return try await unlockSignIns(userID: user.id, by: actor)
    }

    /// 16 characters from 96 random bits (base64url): a temporary password to read out once.
    static func generatedPassword() -> String {
        Base64URL.random(byteCount: 12)
    }

    public enum Creation: Sendable {
        case created(User)
        case alreadyExists(User)
    }

    /// Creates an administrator with `email` unless an account with that address exists.
    public func createAdministrator(
        email rawEmail: String, password: Secret, name: String?, by actor: AuditActor
    ) async throws -> Creation {
        let email = try Validation.normalisedEmail(rawEmail)
        try Validation.requireValidPassword(password.value)
        if let existing = try await store.user(email: email) {
            return .alreadyExists(existing)
        }
        _ = try Validation.newEmail(rawEmail)
        let now = clock.now()
        let admin = User(
            id: Identifier.make("usr"), email: email,
            name: try Validation.line(name ?? "Administrator", field: "name"), organizationID: nil, role: .admin,
            passwordHash: try await passwords.hash(password.value), createdAt: now, updatedAt: now)
        do {
            try await audit.change {
                try await store.insert(admin, creating: nil)
                try await audit.record(.createAdmin, by: actor, resource: ("user", admin.id))
            }
        } catch DomainError.conflict {
            // Another replica bootstrapping the same administrator got there first.
            guard let existing = try await store.user(email: email) else { throw DomainError.conflict("Email already registered") }
            return .alreadyExists(existing)
        }
        return .created(admin)
    }
}
