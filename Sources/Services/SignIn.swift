import Actors
import Domain
import Foundation

/// Local accounts signing in and out: registration, password login, logout, the bearer tokens
/// NeoSC issues and what a presented token stands for. The API calls it; so will the portal's
/// pages. Every attempt is audited, failures throttled per account and per client address.
public struct SignIn: Sendable {
    public struct Settings: Sendable {
        /// How long an issued bearer token lasts (never past a demo's end).
        public var tokenLifetime: TimeInterval
        public var allowRegistration: Bool

        public init(tokenLifetime: TimeInterval = 8 * 3_600, allowRegistration: Bool = true) {
            self.tokenLifetime = tokenLifetime
            self.allowRegistration = allowRegistration
        }
    }

    /// The fixed windows failed attempts are counted in.
    public struct Throttles: Sendable {
        /// Failed logins per account across all addresses. Not a lock-out lever: it holds back
        /// only addresses that have themselves failed for the account (see `pairLogins`), so a
        /// right password from an address that never failed still signs in.
        public let accountLogins: AttemptThrottle
        /// Failed logins per account from one client address: a handful, so guessing is slow.
        public let pairLogins: AttemptThrottle
        /// Failed logins per client address: many more, so one office behind a NAT is not locked out.
        public let addressLogins: AttemptThrottle
        /// Registrations per client address, failed or not: each costs a bcrypt.
        public let registrations: AttemptThrottle
        /// Every login attempt, right or wrong, per (account, address) and per client address: each
        /// costs a bcrypt on shared cores, so one client signing in in a loop cannot slow everyone's,
        /// nor, keyed by address, hold back an account's owner elsewhere.
        public let accountAttempts: AttemptThrottle
        public let addressAttempts: AttemptThrottle
        /// New keys handed to one account while it signs in (`beginEnrollment`): each is a write
        /// and an audit entry, and a challenge lasts 15 minutes.
        public let enrollments = AttemptThrottle(limit: 10, window: 900)
        /// The administrators' unlocks already applied to these counts.
        public let appliedUnlocks = AppliedUnlocks()

        public init(
            accountLogins: AttemptThrottle, addressLogins: AttemptThrottle, registrations: AttemptThrottle,
            pairLogins: AttemptThrottle = AttemptThrottle(limit: 10),
            accountAttempts: AttemptThrottle = AttemptThrottle(limit: 30, window: 60),
            addressAttempts: AttemptThrottle = AttemptThrottle(limit: 300, window: 60)
        ) {
            self.accountLogins = accountLogins
            self.pairLogins = pairLogins
            self.addressLogins = addressLogins
            self.registrations = registrations
            self.accountAttempts = accountAttempts
            self.addressAttempts = addressAttempts
        }
    }

    /// An account signed in: who, and the token it acts with until `expiresAt`.
    public struct Grant: Sendable {
        public let user: User
        public let organization: Organization?
        public let token: String
        public let expiresAt: Date
    }

    /// What a right password leads to: signed in, or, for an account with a second factor, a
    /// challenge to answer with a code (`verifySecondFactor`).
    public enum Outcome: Sendable {
        case signedIn(Grant)
        case secondFactorRequired(SecondFactors.Challenge)
    }

    /// What registration asks for, as the caller sent it (validated here).
    public struct Registration: Sendable {
        public var email: String
        public var password: String
        public var name: String
        public var organization: String?

        public init(email: String, password: String, name: String, organization: String?) {
            self.email = email
            self.password = password
            self.name = name
            self.organization = organization
        }
    }

    /// The longest e-mail address (RFC 5321) and the longest password (in UTF-8 bytes: a
    /// password may be 128 characters of any script) a login may present.
    public static let maximumEmailBytes = 254
    public static let maximumPasswordBytes = Validation.maximumPasswordBytes

    public let settings: Settings
    private let throttles: Throttles
    private let store: any Store
    private let tokenCache: TokenCache
    private let sessions: SessionRegistry
    private let passwords: any PasswordHashing
    private let audit: AuditTrail
    private let clock: WallClock
    private let metrics: PortalMetrics
    /// The second factors of accounts that have one.
    public let secondFactors: SecondFactors
    /// The policies a sign-in must pass.
    private let policies: Policies

    public init(
        store: any Store, tokenCache: TokenCache, sessions: SessionRegistry, passwords: any PasswordHashing,
        throttles: Throttles, audit: AuditTrail, clock: WallClock, metrics: PortalMetrics, settings: Settings,
        policies: Policies, secondFactors: SecondFactors
    ) {
        self.policies = policies
        self.secondFactors = secondFactors
        self.store = store
        self.tokenCache = tokenCache
        self.sessions = sessions
        self.passwords = passwords
        self.throttles = throttles
        self.audit = audit
        self.clock = clock
        self.metrics = metrics
        self.settings = settings
    }

    // MARK: - Registration, login, logout

    /// A new `user` account (founding the organisation named), signed in. Refused
    /// (403) when registration is off and (429) past the address's limit before `read` is called
    /// to read what the caller sent, so a refused attempt costs nothing more; every attempt that
    /// gets that far counts, valid or not: each may cost a bcrypt, and accounts are cheap to spray.
    public func register(from address: String, reading read: () async throws -> Registration) async throws -> Grant {
        guard settings.allowRegistration else {
            throw DomainError.forbidden("Registration is disabled; ask an administrator for an account")
        }
        // Checked and counted in one step: registrations at once cannot all pass before one counts.
        if let refusal = await throttles.registrations.admit(AddressRange.clientKey(forAddress: address)) {
            throw DomainError.rateLimited(
                "Too many registrations from this address; try again later", retryAfterSeconds: refusal.retryAfter)
        }
        let registration = try await read()
        let email = try Validation.newEmail(registration.email)
        try Validation.requireValidPassword(registration.password)
        let name = try Validation.line(registration.name, field: "name")
        let now = clock.now()

        let requested = try registration.organization.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .flatMap { $0.isEmpty ? nil : $0 }.map { try Validation.line($0, field: "organization") }
        /// The organisation to found, as the store has it now (an existing one: 409).
        func organizationToFound() async throws -> Organization? {
            guard let requested else { return nil }
            return try OrganizationMembership.founding(
                name: requested, email: email, existing: try await store.organization(named: requested),
                newID: Identifier.make("org"), at: now)
        }
        func signUp(founding newOrganization: Organization?, passwordHash: String) async throws -> Grant {
            let user = User(
                id: Identifier.make("usr"), email: email, name: name, organizationID: newOrganization?.id, role: .user,
                passwordHash: passwordHash, selfRegistered: true, createdAt: now, updatedAt: now)
            var details = ["role": user.role.rawValue]
            if let newOrganization {
                details["organization"] = newOrganization.name
                details["organization_created"] = newOrganization.id
            }
            func create() async throws {
                try await store.insert(user, creating: newOrganization)
                try await audit.record(.register, by: .account(user), from: address, resource: ("user", user.id), details: details)
            }
            // Refused sign-ins create nothing, except for want of a second factor: the account is
            // made, and the refusal says how to enrol one.
            try await admitPasswordSignIn(of: user, from: address) { try await audit.change { try await create() } }
            let (token, expiresAt) = try await audit.change {
                try await create()
                return try await issueToken(for: user, mfaVerified: false)
            }
            return Grant(user: user, organization: newOrganization, token: token, expiresAt: expiresAt)
        }

        // Hashed once the organisation is settled: a name taken costs no bcrypt.
        let founding = try await organizationToFound()
        let passwordHash = try await passwords.hash(registration.password)
        guard founding != nil else { return try await signUp(founding: nil, passwordHash: passwordHash) }
        do {
            return try await signUp(founding: founding, passwordHash: passwordHash)
        } catch DomainError.conflict {
            // Another registration founded the organisation meanwhile (or the address is taken,
            // which this meets again): decide once more, now that it exists, which is a 409.
            return try await signUp(founding: try await organizationToFound(), passwordHash: passwordHash)
        }
    }

    /// A right password for an account an administrator's reset obliges to choose its own first.
    public static let passwordChangeRequired = DomainError.forbidden(
        "Password change required: POST /api/auth/password with email, current_password and new_password")

    /// Signs in with e-mail and password. Every refusal answers the same `Invalid credentials`
    /// (unknown address, wrong password, disabled account, demo user without a demo) after the
    /// same bcrypt's time, and is audited with its real reason.
    ///
    /// Input no account could have (an e-mail over 254 bytes, a password over
    /// `maximumPasswordBytes`) is refused with 422 before any work. A throttled attempt costs a
    /// counter: the first refusal of a window is audited, the rest only counted
    /// (`auth_failures_total{reason="throttled"}`).
    /// An account with a confirmed second factor gets a challenge instead of a token.
    public func logIn(email claimedEmail: String, password: String, from address: String) async throws -> Outcome {
        let user = try await authenticate(email: claimedEmail, password: password, from: address)
        guard !user.mustChangePassword else {
            try await audit.record(
                .loginFailed, by: .account(user), from: address, success: false, resource: ("user", user.id),
                details: ["reason": "password_change_required"])
            throw Self.passwordChangeRequired
        }
        return try await signedIn(user, from: address)
    }

    /// `user` has just proved its password (`user.passwordHash`): a new token, audited as a login,
    /// or a challenge when the account has a confirmed second factor.
    private func signedIn(_ user: User, from address: String) async throws -> Outcome {
        // A confirmed enrolment sets `mfaEnabled` (for an account with a password it says nothing
        // else), so an account without one costs no read here.
        let twoSteps = user.mfaEnabled ? try await store.totpEnrollment(userID: user.id)?.isConfirmed == true : false
        do {
            try await admitPasswordSignIn(of: user, secondFactorFollows: twoSteps, from: address)
            if twoSteps {
                return .secondFactorRequired(
                    try await audit.change {
                        try await requireStillProven(user)
                        let challenge = try await secondFactors.challenge(for: user)
                        // Recorded as well as the step's outcome: a right password is news to
                        // the account's owner even when no code follows it.
                        try await audit.record(
                            .mfaChallenged, by: .account(user), from: address, resource: ("user", user.id),
                            details: ["method": "password"])
                        return challenge
                    })
            }
            let (token, expiresAt) = try await audit.change {
                try await requireStillProven(user)
                let issued = try await issueToken(for: user, mfaVerified: false)
                try await audit.record(.login, by: .account(user), from: address, resource: ("user", user.id), details: ["method": "password"])
                return issued
            }
            return .signedIn(try await grant(user, token: token, expiresAt: expiresAt))
        } catch let refusal as DomainError where refusal == Self.provenPasswordGone || refusal == Self.disabledMeanwhile {
            try await audit.record(
                .loginFailed, by: .account(user), from: address, success: false, resource: ("user", user.id),
                details: ["reason": refusal == Self.disabledMeanwhile ? "account_disabled_meanwhile" : "password_changed_meanwhile"])
            throw DomainError.invalidCredentials
        }
    }

    /// Within the change that issues a sign-in's token (or its second step's challenge): the
    /// account as stored still has the password the sign-in proved, and is enabled. A password
    /// reset, a reclaim by an identity provider or a disabling that committed while the password
    /// was being checked (a bcrypt's time) revoked every token there was; one issued after it
    /// would outlive them (a probe: the registrant's login, under way at the reclaim, got an
    /// administrator's token).
    private func requireStillProven(_ user: User) async throws {
        guard let stored = try await store.user(id: user.id), let proven = user.passwordHash, stored.passwordHash == proven
        else { throw Self.provenPasswordGone }
        guard !stored.disabled else { throw Self.disabledMeanwhile }
    }

    /// The password a sign-in proved is no longer the account's (answered as a wrong one).
    private static let provenPasswordGone = DomainError.unauthenticated("The password was changed during the sign-in")
    /// The account was disabled while its sign-in checked the password (answered as a wrong one).
    private static let disabledMeanwhile = DomainError.unauthenticated("The account was disabled during the sign-in")

    /// Refuses (403, audited `policy_denied`) a sign-in the policies do not allow: outside a
    /// time window, from an address outside an allow-list. Every way of signing in calls it.
    public func admitSignIn(of user: User, mfaVerified: Bool, secondFactorFollows: Bool = false, from address: String) async throws {
        var request = PolicyRequest(
            stage: .signIn, role: user.role, userID: user.id, organizationID: user.organizationID, address: address,
            mfaVerified: mfaVerified, at: clock.now())
        request.mfaEnrolled = user.canVerifySecondFactor
        request.secondFactorFollows = secondFactorFollows
        try await policies.check(request, by: .account(user))
    }

    /// `admitSignIn` for an account that has just proved its password. When all that stands in
    /// the way is a second factor it must enrol (an `mfa_required` policy; every other policy
    /// would admit the sign-in once it has one), `proceed` still runs (what the sign-in changes:
    /// a registration's account, a new password), and the refusal carries a challenge with which
    /// the caller enrols one and so completes the sign-in (`beginEnrollment`, `completeEnrollment`).
    /// - Parameter proven: the account with the password the sign-in has proved, once `proceed`
    ///   has run (a password change's new one): the enrolment's challenge is issued only while it
    ///   is still the account's (`requireStillProven`).
    private func admitPasswordSignIn(
        of user: User, proven: User? = nil, secondFactorFollows: Bool = false, from address: String,
        proceed: () async throws -> Void = {}
    ) async throws {
        do {
            try await admitSignIn(of: user, mfaVerified: false, secondFactorFollows: secondFactorFollows, from: address)
        } catch var refusal as PolicyRefusal where refusal.asksForEnrollment && SecondFactors.canEnroll(user) {
            // Another policy's refusal (a closed window, say) comes first: nothing changes.
            try await admitSignIn(of: user, mfaVerified: true, from: address)
            try await proceed()
            refusal.enrollment = try await audit.change {
                try await requireStillProven(proven ?? user)
                return try await secondFactors.enrollmentChallenge(for: user)
            }
            refusal.detail += "; enrol a second factor with this mfa_token: POST /api/auth/mfa/enroll, then /api/auth/mfa/confirm"
            throw refusal
        }
    }

    /// The first step of a sign-in refused for want of a second factor: with the challenge of
    /// the refusal (`PolicyRefusal.enrollment`), a new key and recovery codes for the account, as
    /// a signed-in account's enrolment gives (shown once).
    public func beginEnrollment(challengeToken: String, from address: String) async throws -> SecondFactors.Enrollment {
        let (user, _) = try await secondFactors.enrollmentChallenged(by: challengeToken)
        // The policies again (the challenge may be used minutes later, or from elsewhere), before
        // anything changes; and a bound on the keys one account may be handed.
        try await admitSignIn(of: user, mfaVerified: true, from: address)
        if let refusal = await throttles.enrollments.admit(user.id) {
            throw DomainError.rateLimited(
                "Too many new keys for this account; try again in \(refusal.retryAfter) s", retryAfterSeconds: refusal.retryAfter)
        }
        return try await secondFactors.enroll(user, by: .account(user), from: address)
    }

    /// The second step: the authenticator's current code confirms the enrolment, and the sign-in
    /// completes MFA-verified, in one change that spends the challenge. A wrong code is refused
    /// (422, counted against the account, as every code is) and the challenge stays usable until
    /// it expires.
    public func completeEnrollment(challengeToken: String, code: String, from address: String) async throws -> Grant {
        let (user, challenge) = try await secondFactors.enrollmentChallenged(by: challengeToken)
        // The policies again: the challenge may be used minutes later, or from elsewhere.
        try await admitSignIn(of: user, mfaVerified: true, from: address)
        let (token, expiresAt) = try await secondFactors.confirm(user, code: code, by: .account(user), from: address) { method in
            guard try await store.removeMFAChallenge(digest: challenge.digest) else {
                throw SecondFactors.challengeGone
            }
            // The account's other challenges (another enrolment begun meanwhile) go too: with a
            // factor now, a sign-in starts again at the password.
            try await store.removeMFAChallenges(userID: user.id)
            return try await issueSignIn(of: user, mfaMethod: method, from: address)
        }
        var enrolled = user
        enrolled.mfaEnabled = true
        return try await grant(enrolled, token: token, expiresAt: expiresAt)
    }

    private func grant(_ user: User, token: String, expiresAt: Date) async throws -> Grant {
        let organization = try await user.organizationID.asyncFlatMap { try await store.organization(id: $0) }
        return Grant(user: user, organization: organization, token: token, expiresAt: expiresAt)
    }

    /// The second step of a sign-in: `challengeToken` (from `logIn`) and a code from the
    /// account's authenticator or one of its recovery codes. Right: a token whose sessions are
    /// MFA-verified, and the challenge is spent. Wrong: 401, counted against the account; the
    /// challenge stays usable until it expires.
    public func verifySecondFactor(challengeToken: String, code: String, from address: String) async throws -> Grant {
        let (user, challenge, enrollment) = try await secondFactors.challenged(by: challengeToken)
        // The policies again: the challenge may come from elsewhere, or minutes later.
        try await admitSignIn(of: user, mfaVerified: true, from: address)
        let (token, expiresAt) = try await secondFactors.withCode(
            code, of: user, enrollment: enrollment, by: .account(user), from: address, stage: "sign_in",
            refusal: .unauthenticated("Invalid code")
        ) { method in
            guard try await store.removeMFAChallenge(digest: challenge.digest) else {
                throw SecondFactors.challengeGone
            }
            // The account's other challenges (another enrolment begun meanwhile) go too: with a
            // factor now, a sign-in starts again at the password.
            try await store.removeMFAChallenges(userID: user.id)
            return try await issueSignIn(of: user, mfaMethod: method, from: address)
        }
        return try await grant(user, token: token, expiresAt: expiresAt)
    }

    /// Within a change: a token for `user`, who proved its password and `mfaMethod`, audited as a
    /// login (and `mfa_verified`).
    private func issueSignIn(
        of user: User, mfaMethod: SecondFactors.Method, from address: String
    ) async throws -> (
        token: String, expiresAt: Date
    ) {
        let issued = try await issueToken(for: user, mfaVerified: true)
        try await audit.record(
            .mfaVerified, by: .account(user), from: address, resource: ("user", user.id), details: ["method": mfaMethod.rawValue])
        try await audit.record(
            .login, by: .account(user), from: address, resource: ("user", user.id),
            details: ["method": "password+\(mfaMethod.rawValue)"])
        return issued
    }

    /// The signed-in account removes its own second factor, proving its password and a code (from
    /// the authenticator, or a recovery code; a pending enrolment needs none); a wrong password
    /// counts as a failed login.
    public func removeSecondFactor(of principal: Principal, password: String, code: String?, from address: String) async throws {
        guard let user = try await store.user(id: principal.userID), !user.disabled else {
            throw DomainError.unauthenticated("Account is disabled")
        }
        guard let enrollment = try await store.totpEnrollment(userID: user.id) else {
            throw DomainError.conflict("This account has no second factor")
        }
        try await requireCurrentPassword(password, of: user, field: "password", principal: principal, action: .mfaReset, from: address)
        try await secondFactors.remove(user, enrollment: enrollment, code: code, by: .principal(principal), from: address)
    }

    /// The account `claimedEmail` and `password` name, checked as a login checks them: bounded
    /// input, the throttles, bcrypt, and every refusal audited with its reason.
    private func authenticate(email claimedEmail: String, password: String, from address: String) async throws -> User {
        guard claimedEmail.utf8.count <= Self.maximumEmailBytes + 64 else { throw DomainError.invalid("email is too long") }
        guard password.utf8.count <= Self.maximumPasswordBytes else { throw DomainError.invalid("password is too long") }
        let email = claimedEmail.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard email.utf8.count <= Self.maximumEmailBytes else { throw DomainError.invalid("email is too long") }
        let keys = try await admitPasswordAttempt(email: email, from: address)

        let user = try await store.user(email: email)
        let passwordMatches = try await passwords.verify(password, against: user?.passwordHash)
        // A demo user's access exists only through an active demo: without one it is refused like
        // a disabled account (the same answer, so the refusal tells nobody the password was right).
        var withoutDemo = false
        if let user, passwordMatches, user.role == .demoUser {
            let demo = try await store.demo(userID: user.id)
            withoutDemo = (try? DemoAccess.requireActive(role: user.role, demo: demo, at: clock.now())) == nil
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
            metrics.authenticationFailed(reason: reason)
            await recordFailedPassword(keys)
            try await audit.record(
                .loginFailed, by: .anonymous(claimedEmail: email), from: address, success: false,
                resource: user.map { ("user", $0.id) }, details: ["reason": reason])
            throw DomainError.invalidCredentials
        }
        await throttles.pairLogins.reset(keys.pair)
        return user
    }

    /// The (account, client) key: a client as `AddressRange.clientKey(forAddress:)` counts it.
    static func pairKey(email: String, client: String) -> String { email + "\n" + client }

    /// Lets a password check for `email` from `address` go ahead, or refuses it (429): the same
    /// holds for a login and a password change. Failures are held back per address and per
    /// (account, address); the account-wide count holds back only an address that has failed for
    /// this account itself, so nobody can lock an account's owner out by failing its logins from
    /// elsewhere. The attempt cap is per (account, address) too: an account's sign-ins from one
    /// address can be slowed, never everyone's. An address is counted as its client: an IPv6
    /// address as its /64, so that one host cannot take fresh counts from the addresses it holds.
    /// Answers the keys to count a failure under.
    private func admitPasswordAttempt(email: String, from address: String) async throws -> FailureKeys {
        let client = AddressRange.clientKey(forAddress: address)
        let pair = Self.pairKey(email: email, client: client)
        let accountWide: AttemptThrottle? = await throttles.pairLogins.attempts(pair) > 0 ? throttles.accountLogins : nil
        let holds: [(AttemptThrottle, String)] =
            [(throttles.pairLogins, pair), (throttles.addressLogins, client)] + (accountWide.map { [($0, email)] } ?? [])
        try await refuseIfHeld(holds, reason: "throttled", detail: "Too many failed logins; try again later", email: email, from: address)
        try await refuseIfHeld(
            [(throttles.accountAttempts, pair), (throttles.addressAttempts, client)], reason: "too_many_attempts",
            detail: "Too many sign-ins; try again in a minute", email: email, from: address, counting: true)
        return FailureKeys(email: email, pair: pair, client: client)
    }

    /// What a wrong password is counted under: the account, the (account, client) pair, the client.
    private struct FailureKeys {
        let email: String
        let pair: String
        let client: String
    }

    /// Counts a wrong password against every hold.
    private func recordFailedPassword(_ keys: FailureKeys) async {
        await throttles.pairLogins.record(keys.pair)
        await throttles.accountLogins.record(keys.email)
        await throttles.addressLogins.record(keys.client)
    }

    static func requireNewPassword(_ new: String, differingFrom current: String) throws(DomainError) {
        try Validation.requireValidPassword(new)
        guard new != current else { throw .invalid("new_password must differ from the current one") }
    }

    /// Refuses (429) when any of `holds` holds its key back; the first refusal of a window is
    /// audited with `reason`, every one counted in `auth_failures_total`.
    /// With `counting`, each key that is not held back is counted in the same step as the check.
    private func refuseIfHeld(
        _ holds: [(AttemptThrottle, String)], reason: String, detail: String, email: String, from address: String,
        counting: Bool = false
    ) async throws {
        for (throttle, key) in holds {
            guard let refusal = counting ? await throttle.admit(key) : await throttle.refusal(key) else { continue }
            metrics.authenticationFailed(reason: reason)
            if refusal.count == 1 {
                try await audit.record(
                    .loginFailed, by: .anonymous(claimedEmail: email), from: address, success: false,
                    details: ["reason": reason, "retry_after": String(refusal.retryAfter)])
            }
            throw DomainError.rateLimited(detail, retryAfterSeconds: refusal.retryAfter)
        }
    }

    /// Forgets the failed-login counts of `unlock`'s account, from every address, once per
    /// process; answers how many addresses that one application let through again (the same
    /// count when the watcher of recorded unlocks applied it first).
    public func apply(_ unlock: LoginUnlock) async -> Int {
        await applyOnce(unlock).cleared
    }

    /// Applies the unlocks recorded in the store (by another process, or `neosc admin unlock`)
    /// within the last hour that this process has not applied yet; answers how many.
    @discardableResult
    public func applyRecordedUnlocks() async throws -> Int {
        var applied = 0
        for unlock in try await store.unlocks(since: clock.now().addingTimeInterval(-3_600)) {
            if await applyOnce(unlock).first { applied += 1 }
        }
        return applied
    }

    /// Applies `unlock` once per process: how many addresses its one application cleared, and
    /// whether this call applied it (a request and the watcher may both present a new one).
    private func applyOnce(_ unlock: LoginUnlock) async -> (cleared: Int, first: Bool) {
        await throttles.appliedUnlocks.apply(unlock, now: clock.now()) { [throttles] in
            await throttles.accountLogins.reset(unlock.email)
            return await throttles.pairLogins.reset(keysStartingWith: unlock.email + "\n")
        }
    }

    // MARK: - Passwords

    /// The signed-in `principal` changes its password: `current` must be right (a wrong one
    /// counts as a failed login), `new` valid and different. Every other token of the account is
    /// revoked (the one in use stays); answers how many.
    public func changePassword(
        of principal: Principal, current: String, new: String, from address: String
    ) async throws -> Int {
        guard let user = try await store.user(id: principal.userID), !user.disabled else {
            throw DomainError.unauthenticated("Account is disabled")
        }
        guard user.passwordHash != nil else {
            throw user.role == .demoUser
                ? DomainError.conflict("A demo visitor's account has no password: it lasts as long as its demo")
                : DomainError.conflict("This account signs in through an identity provider; change its password there")
        }
        // What costs nothing first: the sizes and the new password's rules (an oversize current
        // password is bad input, as at login, not a guess); then the same holds as a login's.
        guard current.utf8.count <= Self.maximumPasswordBytes else {
            throw DomainError.invalid("current_password is too long")
        }
        try Self.requireNewPassword(new, differingFrom: current)
        try await requireCurrentPassword(
            current, of: user, field: "current_password", principal: principal, action: .passwordChanged, from: address)
        return try await replacePassword(
            of: user, with: new, keeping: principal.credentialDigest, by: .principal(principal), from: address)
    }

    /// The signed-in account's own password, checked with a login's throttles before a change that
    /// needs it; a wrong one counts as a failed login and is audited as a refused `action`.
    private func requireCurrentPassword(
        _ password: String, of user: User, field: String, principal: Principal, action: AuditAction, from address: String
    ) async throws {
        guard password.utf8.count <= Self.maximumPasswordBytes else { throw DomainError.invalid("\(field) is too long") }
        let keys = try await admitPasswordAttempt(email: user.email, from: address)
        guard try await passwords.verify(password, against: user.passwordHash) else {
            await recordFailedPassword(keys)
            try await audit.record(
                action, by: .principal(principal), from: address, success: false, resource: ("user", user.id),
                details: ["reason": "wrong_password"])
            throw DomainError.invalid("\(field) is not this account's password")
        }
    }

    /// A password change without a token, for an account an administrator's reset obliges to
    /// choose a new password: `email` and `current` are checked as a login checks them, then the
    /// account is signed in with the new password (in two steps, if it has a second factor).
    ///
    /// An account with a second factor must send a `code` too: the password alone changes
    /// nothing (it would otherwise let whoever holds it revoke the owner's tokens). The code and
    /// the new password are then one change, and the account is signed in MFA-verified.
    public func changePassword(
        email: String, current: String, new: String, code: String? = nil, from address: String
    ) async throws -> Outcome {
        try Self.requireNewPassword(new, differingFrom: current)
        let user = try await authenticate(email: email, password: current, from: address)
        var changed = user
        changed.mustChangePassword = false
        guard let enrollment = try await store.totpEnrollment(userID: user.id), enrollment.isConfirmed else {
            let hash = try await passwords.hash(new)
            changed.passwordHash = hash  // the password the sign-in that follows has proved
            func replace() async throws {
                let replaced = try await audit.change {
                    try await replacingPassword(of: user, hash: hash, keeping: nil, by: .account(user), from: address)
                } afterwards: {
                    tokenCache.evict(userID: user.id)
                }
                await sessions.ended(replaced.ended)
            }
            // Refused sign-ins change nothing (the policies before the password), except for want
            // of a second factor: the password changes, and the refusal says how to enrol one.
            try await admitPasswordSignIn(of: user, proven: changed, from: address) { try await replace() }
            try await replace()
            return try await signedIn(changed, from: address)
        }
        // A right password: audited as a sign-in's first step is, whatever the code is (probes:
        // the answers to no code, then to a malformed one, confirmed a stolen password unaudited).
        try await audit.record(
            .mfaChallenged, by: .account(user), from: address, resource: ("user", user.id), details: ["method": "password_change"])
        guard let code, !code.isEmpty else {
            throw DomainError.unauthenticated("This account has a second factor: send its code with the password change")
        }
        try await admitSignIn(of: user, mfaVerified: true, from: address)
        let hash = try await passwords.hash(new)
        let (token, expiresAt, ended) = try await secondFactors.withCode(
            code, of: user, enrollment: enrollment, by: .account(user), from: address, stage: "password_change",
            refusal: .unauthenticated("Invalid code")
        ) { method in
            let replaced = try await replacingPassword(of: user, hash: hash, keeping: nil, by: .account(user), from: address)
            let (token, expiresAt) = try await issueSignIn(of: changed, mfaMethod: method, from: address)
            return (token, expiresAt, replaced.ended)
        }
        tokenCache.evict(userID: user.id)
        await sessions.ended(ended)
        return .signedIn(try await grant(changed, token: token, expiresAt: expiresAt))
    }

    private func replacePassword(
        of user: User, with new: String, keeping digest: String?, by actor: AuditActor, from address: String
    ) async throws -> Int {
        let hash = try await passwords.hash(new)
        let replaced = try await audit.change {
            try await replacingPassword(of: user, hash: hash, keeping: digest, by: actor, from: address)
        } afterwards: {
            tokenCache.evict(userID: user.id)
        }
        await sessions.ended(replaced.ended)
        return replaced.revoked
    }

    /// What a password change took away: the tokens revoked, the workspace sessions ended.
    private struct PasswordReplacement: Sendable {
        var revoked: Int
        var ended: [WorkspaceSession]
    }

    /// Within a change: the new password hash, every token but `digest` revoked, and every active
    /// workspace session ended (none can tell which sign-in launched it, and one that whoever
    /// knew the old password launched must not outlive the change).
    private func replacingPassword(
        of user: User, hash: String, keeping digest: String?, by actor: AuditActor, from address: String
    ) async throws -> PasswordReplacement {
        let now = clock.now()
        // Only the password columns, only while the account is enabled (a disabling that raced
        // this change wins) and only over the password that was checked: of changes racing with
        // the same current password (a temporary one, say), one is made, the others refused.
        guard
            try await store.setPassword(
                userID: user.id, hash: hash, mustChange: false, at: now, requireEnabled: true, replacing: user.passwordHash)
        else {
            guard let stored = try await store.user(id: user.id), !stored.disabled else {
                throw DomainError.unauthenticated("Account is disabled")
            }
            throw DomainError.conflict("The password was changed meanwhile; sign in with the new one")
        }
        // A second step that the old password opened (a code, or enrolling a second factor) closes.
        try await store.removeMFAChallenges(userID: user.id)
        let revoked =
            if let digest {
                try await store.revokeAll(userID: user.id, except: digest, at: now)
            } else {
                try await store.revokeAll(userID: user.id, at: now)
            }
        let ended = try await store.endAll(userID: user.id, .passwordChanged, at: now)
        try await audit.record(
            .passwordChanged, by: actor, from: address, resource: ("user", user.id),
            details: ["tokens_revoked": String(revoked), "sessions_terminated": String(ended.count)])
        return PasswordReplacement(revoked: revoked, ended: ended)
    }

    /// Revokes the credential `principal` signed in with, which a new sign-in in the same
    /// browser has replaced (its cookie now holds another token, and nothing there could revoke
    /// the old one): audited `logout` with `reason: replaced`. Its workspace sessions go on (their
    /// owner may have signed in again); a token revoked meanwhile is left as it is.
    public func replaced(_ principal: Principal, from address: String) async throws {
        try await audit.change {
            guard try await store.revoke(digest: principal.credentialDigest, at: clock.now()) else { return }
            try await audit.record(
                .logout, by: .principal(principal), from: address, resource: ("user", principal.userID),
                details: ["reason": "replaced", "sessions_terminated": "0"])
        } afterwards: {
            tokenCache.evict(digest: principal.credentialDigest)
        }
    }

    /// Revokes the credential `principal` signed in with and ends its active sessions; answers
    /// how many ended.
    public func logOut(_ principal: Principal, from address: String) async throws -> Int {
        let now = clock.now()
        let ended: [WorkspaceSession] = try await audit.change {
            // A NeoSC token revoked meanwhile (a logout at once, a reset) logs nobody out twice; a
            // provider's credential is not in the store, and its logout ends the sessions all the same.
            if try await !store.revoke(digest: principal.credentialDigest, at: now),
                try await store.token(digest: principal.credentialDigest) != nil
            {
                throw DomainError.unauthenticated("Invalid or expired token")
            }
            let ended = try await store.endAll(userID: principal.userID, .logout, at: now)
            try await audit.record(
                .logout, by: .principal(principal), from: address, resource: ("user", principal.userID),
                details: ["sessions_terminated": String(ended.count)])
            return ended
        } afterwards: {
            tokenCache.evict(digest: principal.credentialDigest)
        }
        if !ended.isEmpty { await sessions.ended(ended) }
        return ended.count
    }

    // MARK: - Bearer tokens

    /// Issues and stores a new bearer token for `user`, valid for the configured lifetime but
    /// never past `notAfter`; `claims`: those of the provider's token a sign-in through it showed.
    func issueToken(
        for user: User, mfaVerified: Bool, notAfter: Date = .distantFuture, claims: Set<String> = []
    ) async throws
        -> (token: String, expiresAt: Date)
    {
        let (token, digest) = BearerCredential.issue()
        let now = clock.now()
        let expiresAt = min(now.addingTimeInterval(settings.tokenLifetime), notAfter)
        try await store.insert(
            AccessToken(
                digest: digest, userID: user.id, issuedAt: now, expiresAt: expiresAt, mfaVerified: mfaVerified, claims: claims))
        return (token, expiresAt)
    }

    /// The identity a bearer token stands for, or why it stands for none. Cached by digest (see
    /// `TokenCache`): a hit costs no store read, and never outlives the token.
    public func identity(forToken token: String) async throws -> Result<Identity, DomainError> {
        guard BearerCredential.isWellFormed(token) else { return .failure(.unauthenticated("Invalid token")) }
        let digest = BearerCredential.digest(token)
        let now = clock.now()
        if let cached = tokenCache.identity(forDigest: digest), now < cached.principal.credentialExpiresAt {
            return .success(cached)
        }
        let ticket = tokenCache.fillTicket()
        let admission = try await StoredIdentities(store: store).admissions(of: [digest], at: now)[0]
        guard case .success(let identity) = admission else { return admission }
        tokenCache.remember(identity, ticket: ticket, readAt: now, renewable: true)
        return .success(identity)
    }
}

extension Optional {
    /// `flatMap` with an asynchronous transform.
    package func asyncFlatMap<U>(_ transform: (Wrapped) async throws -> U?) async rethrows -> U? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
