import Actors
import Crypto
import Domain
import Foundation

/// Second factors for local accounts: TOTP enrolment and its confirmation, the codes checked at
/// sign-in (each accepted once, wrong ones throttled per account), recovery codes, removal and
/// an administrator's reset. Every change and every refusal is audited.
public struct SecondFactors: Sendable {
    /// A challenge (a sign-in's second step, or an enrolment) that is unknown, spent or expired,
    /// or whose account changed: the sign-in starts again at its first step.
    public static let challengeGone = DomainError.unauthenticated("Invalid or expired mfa_token; sign in again")

    /// What enrolment shows, once.
    public struct Enrollment: Sendable {
        /// The key in base32, for typing into an authenticator.
        public let secret: String
        public let otpauthURI: String
        /// Only their digests are kept: shown here and never again.
        public let recoveryCodes: [String]
    }

    /// A sign-in waiting for its second factor: the token that lets the caller present a code.
    public struct Challenge: Sendable {
        public let token: String
        public let expiresAt: Date
    }

    /// How a code was accepted.
    public enum Method: String, Sendable {
        case totp
        case recoveryCode = "recovery_code"
    }

    public static let issuer = "NeoSC"
    public static let recoveryCodeCount = 10
    public static let challengeLifetime: TimeInterval = 300
    public static let enrollmentChallengeLifetime: TimeInterval = 900
    /// Wrong codes per account before it must wait for the window to pass: with a million
    /// possible codes and three accepted at a time, guessing stays hopeless.
    public static let failureLimit = 5

    private let store: any Store
    private let algorithm: any TOTPAlgorithm
    private let audit: AuditTrail
    private let tokenCache: TokenCache
    private let clock: WallClock
    private let failures: AttemptThrottle

    public init(
        store: any Store, algorithm: any TOTPAlgorithm, audit: AuditTrail, tokenCache: TokenCache, clock: WallClock,
        failures: AttemptThrottle
    ) {
        self.store = store
        self.algorithm = algorithm
        self.audit = audit
        self.tokenCache = tokenCache
        self.clock = clock
        self.failures = failures
    }

    // MARK: - Enrolment

    /// Starts the signed-in account's enrolment (replacing a pending one): a new key and new
    /// recovery codes, asked for at sign-in only once `confirm` has seen a right code.
    public func enroll(_ principal: Principal, from address: String) async throws -> Enrollment {
        try await enroll(try await localAccount(principal), by: .principal(principal), from: address)
    }

    /// Starts `user`'s enrolment, for the account itself (signed in, or signing in: `SignIn`).
    func enroll(_ user: User, by actor: AuditActor, from address: String) async throws -> Enrollment {
        if try await store.totpEnrollment(userID: user.id)?.isConfirmed == true { throw Self.alreadyEnabled }
        let secret = Base64URL.random(byteCount: 20)
        let recoveryCodes = (0..<Self.recoveryCodeCount).map { _ in Self.newRecoveryCode() }
        let enrollment = TOTPEnrollment(
            userID: user.id, secret: secret,
            recoveryCodeDigests: recoveryCodes.map { Self.digest(recoveryCode: $0) }, createdAt: clock.now())
        try await audit.change {
            guard try await store.beginEnrollment(enrollment) else { throw Self.alreadyEnabled }
            try await audit.record(.mfaEnrollmentStarted, by: actor, from: address, resource: ("user", user.id))
        }
        let provisioning = algorithm.provisioning(secret: secret, account: user.email, issuer: Self.issuer)
        return Enrollment(
            secret: provisioning.base32, otpauthURI: provisioning.uri, recoveryCodes: recoveryCodes.map(Self.grouped))
    }

    /// Confirms the pending enrolment with a code from the authenticator: from then on the
    /// account signs in in two steps and its `mfa_enabled` is true. Only the enrolment whose key
    /// the code was checked against is confirmed: one replaced meanwhile is not.
    public func confirm(_ principal: Principal, code: String, from address: String) async throws {
        try await confirm(try await localAccount(principal), code: code, by: .principal(principal), from: address) { _ in }
    }

    /// Confirms `user`'s pending enrolment, and runs `then` in the same change (a sign-in that
    /// was waiting for the enrolment issues its token there).
    func confirm<T: Sendable>(
        _ user: User, code: String, by actor: AuditActor, from address: String, then: (Method) async throws -> T
    ) async throws -> T {
        guard let enrollment = try await store.totpEnrollment(userID: user.id) else {
            throw DomainError.conflict(
                "No MFA enrolment is pending; start one first (POST /api/auth/mfa/totp/enroll, or /api/auth/mfa/enroll while signing in)")
        }
        guard !enrollment.isConfirmed else { throw Self.alreadyEnabled }
        guard case .totp = try SecondFactorCode(code) else {
            throw DomainError.invalid("code must be the 6 digits the authenticator shows")
        }
        let result = try await withCode(
            code, of: user, enrollment: enrollment, by: actor, from: address, stage: "enrolment",
            refusal: .invalid("code is not the authenticator's current code")
        ) { method in
            guard try await store.confirmEnrollment(userID: user.id, secret: enrollment.secret, at: clock.now()) else {
                throw DomainError.conflict("The pending enrolment changed meanwhile; start again")
            }
            try await audit.record(.mfaEnrolled, by: actor, from: address, resource: ("user", user.id), details: ["method": "totp"])
            return try await then(method)
        }
        tokenCache.evict(userID: user.id)
        return result
    }

    /// The account itself removes its second factor, once `SignIn` has checked its password: a
    /// confirmed one also needs a code (from the authenticator, or a recovery code).
    func remove(_ user: User, enrollment: TOTPEnrollment, code: String?, by actor: AuditActor, from address: String) async throws {
        if enrollment.isConfirmed {
            _ = try await withCode(
                code ?? "", of: user, enrollment: enrollment, by: actor, from: address, stage: "removal",
                refusal: .invalid("code is not valid")
            ) { _ in
                try await removeEnrollment(of: user, expected: enrollment, by: actor, from: address)
            }
        } else {
            try await audit.change { try await removeEnrollment(of: user, expected: enrollment, by: actor, from: address) }
        }
        tokenCache.evict(userID: user.id)
    }

    /// An administrator removes another account's second factor (a lost phone and no recovery
    /// codes left): it signs in with its password alone until it enrols again.
    public func reset(userID: String, by actor: AuditActor, from address: String?) async throws {
        guard let user = try await store.user(id: userID) else { throw DomainError.notFound("User not found") }
        try await audit.change { try await removeEnrollment(of: user, expected: nil, by: actor, from: address) }
        tokenCache.evict(userID: user.id)
        await failures.reset(user.id)
    }

    /// Within a change: removes `user`'s enrolment if it is still `expected` (any, when nil) and
    /// audits `mfa_reset` (with `pending` for an enrolment never confirmed).
    private func removeEnrollment(of user: User, expected: TOTPEnrollment?, by actor: AuditActor, from address: String?) async throws {
        guard try await store.removeEnrollment(userID: user.id, matching: expected, at: clock.now()) else {
            throw DomainError.conflict(
                expected == nil ? "This account has no second factor" : "The second factor changed meanwhile; try again")
        }
        var details = ["by": actor.userID == user.id ? "self" : "administrator"]
        // An enrolment never confirmed was no second factor yet: its removal says so.
        if let expected, !expected.isConfirmed { details["pending"] = "true" }
        try await audit.record(.mfaReset, by: actor, from: address, resource: ("user", user.id), details: details)
    }

    // MARK: - Sign-in

    /// A new single-use challenge for `user`, whose password was right.
    func challenge(for user: User) async throws -> Challenge {
        let (token, digest) = Self.newChallengeToken()
        let now = clock.now()
        let expiresAt = now.addingTimeInterval(Self.challengeLifetime)
        try await store.insert(MFAChallenge(digest: digest, userID: user.id, issuedAt: now, expiresAt: expiresAt))
        return Challenge(token: token, expiresAt: expiresAt)
    }

    /// A new single-use challenge for `user`, whose password was right but who must enrol a second
    /// factor before it may sign in (an `mfa_required` policy): longer than a code's, since it
    /// covers setting up an authenticator.
    func enrollmentChallenge(for user: User) async throws -> PolicyRefusal.EnrollmentChallenge {
        let (token, digest) = Self.newChallengeToken()
        let now = clock.now()
        let expiresAt = now.addingTimeInterval(Self.enrollmentChallengeLifetime)
        try await store.insert(MFAChallenge(digest: digest, userID: user.id, issuedAt: now, expiresAt: expiresAt))
        return PolicyRefusal.EnrollmentChallenge(token: token, expiresAt: expiresAt)
    }

    /// Whether `user` can enrol a second factor of NeoSC's: an account with a password of its
    /// own (an identity provider's accounts use the provider's MFA), not a demo's.
    static func canEnroll(_ user: User) -> Bool {
        user.passwordHash != nil && user.role != .demoUser
    }

    /// The account an enrolment challenge (`enrollmentChallenge`) is for and the challenge, or
    /// 401 when it is unknown, spent, expired, its account disabled or made to change its
    /// password since, or the account has a confirmed second factor by now (then it signs in with it).
    func enrollmentChallenged(by token: String) async throws -> (User, MFAChallenge) {
        let refused = Self.challengeGone
        guard token.utf8.count <= 128, token.hasPrefix(Self.challengePrefix) else { throw refused }
        guard let challenge = try await store.mfaChallenge(digest: BearerCredential.digest(token)), challenge.isValid(at: clock.now()),
            let user = try await store.user(id: challenge.userID), !user.disabled, !user.mustChangePassword, Self.canEnroll(user),
            try await store.totpEnrollment(userID: user.id)?.isConfirmed != true
        else { throw refused }
        return (user, challenge)
    }

    /// The account `token` challenges and the challenge, or 401 when it is unknown, spent,
    /// expired, or its account disabled, reset by an administrator or without a second factor since.
    func challenged(by token: String) async throws -> (User, MFAChallenge, TOTPEnrollment) {
        let refused = Self.challengeGone
        guard token.utf8.count <= 128, token.hasPrefix(Self.challengePrefix) else { throw refused }
        let now = clock.now()
        guard let challenge = try await store.mfaChallenge(digest: BearerCredential.digest(token)), challenge.isValid(at: now),
            let user = try await store.user(id: challenge.userID), !user.disabled, !user.mustChangePassword,
            let enrollment = try await store.totpEnrollment(userID: user.id), enrollment.isConfirmed
        else { throw refused }
        return (user, challenge, enrollment)
    }

    /// A code that matched, not spent yet.
    private enum Accepted {
        case totp(step: Int64)
        case recovery(digest: String)
    }

    /// A code that matched but was spent by the time its change ran (a replay, a concurrent use).
    private struct Spent: Error {
        var reason: String
    }

    /// Checks `code` as `user`'s second factor, then spends it in one change with `change`: a
    /// TOTP code's step is redeemed once for the account (in the store, so a replay on any
    /// replica is refused), a recovery code struck out (audited `recovery_code_used`). Every
    /// attempt counts against the account's limit before it is checked (past it: 429 until the
    /// window has passed); a right one clears the count. A wrong, replayed or spent code is
    /// audited `mfa_failed` and throws `refusal`, and `change` does not run.
    func withCode<T: Sendable>(
        _ code: String, of user: User, enrollment: TOTPEnrollment, by actor: AuditActor, from address: String,
        stage: String, refusal: DomainError, _ change: (Method) async throws -> T
    ) async throws -> T {
        if let held = await failures.admit(user.id) {
            if held.count == 1 {
                try await audit.record(
                    .mfaFailed, by: actor, from: address, success: false, resource: ("user", user.id),
                    details: ["reason": "throttled", "stage": stage, "retry_after": String(held.retryAfter)])
            }
            throw DomainError.rateLimited("Too many wrong codes; try again later", retryAfterSeconds: held.retryAfter)
        }
        func fail(_ reason: String) async throws -> Never {
            try await audit.record(
                .mfaFailed, by: actor, from: address, success: false, resource: ("user", user.id),
                details: ["reason": reason, "stage": stage])
            throw refusal
        }
        let now = clock.now()
        let accepted: Accepted
        switch try SecondFactorCode(code) {
        case .totp(let digits):
            guard
                let step = TOTPWindow.matchingStep(
                    of: digits, at: now, codeOf: { algorithm.code(secret: enrollment.secret, step: $0) })
            else { try await fail("wrong_code") }
            accepted = .totp(step: step)
        case .recovery(let recoveryCode):
            let digest = Self.digest(recoveryCode: recoveryCode)
            guard enrollment.isConfirmed, enrollment.recoveryCodeDigests.contains(digest) else {
                try await fail("wrong_recovery_code")
            }
            accepted = .recovery(digest: digest)
        }
        do {
            let result = try await audit.change {
                let method: Method
                switch accepted {
                case .totp(let step):
                    let nonce = Hex.encode(SHA256.hash(data: Array("totp\n\(user.id)\n\(step)".utf8)))
                    guard try await store.redeem(nonce: nonce, until: TOTPWindow.end(of: step + 1), at: now) else {
                        throw Spent(reason: "code_replayed")
                    }
                    method = .totp
                case .recovery(let digest):
                    guard try await store.useRecoveryCode(userID: user.id, digest: digest) else {
                        throw Spent(reason: "wrong_recovery_code")
                    }
                    try await audit.record(
                        .recoveryCodeUsed, by: actor, from: address, resource: ("user", user.id),
                        details: ["remaining": String(max(0, enrollment.recoveryCodeDigests.count - 1)), "stage": stage])
                    method = .recoveryCode
                }
                return try await change(method)
            }
            await failures.reset(user.id)
            return result
        } catch let spent as Spent {
            try await fail(spent.reason)
        }
    }

    // MARK: - Helpers

    static let alreadyEnabled = DomainError.conflict("MFA is already enabled; remove it first (DELETE /api/auth/mfa/totp)")
    static let challengePrefix = "neosc_mfa_"

    /// The signed-in account, if it signs in with a password of its own (an identity provider's
    /// accounts use the provider's MFA) and is not a demo's.
    private func localAccount(_ principal: Principal) async throws -> User {
        guard let user = try await store.user(id: principal.userID), !user.disabled else {
            throw DomainError.unauthenticated("Account is disabled")
        }
        guard user.role != .demoUser else { throw DomainError.forbidden("Demo accounts have no second factor") }
        guard user.passwordHash != nil else {
            throw DomainError.conflict("This account signs in through an identity provider; its MFA is the provider's")
        }
        return user
    }

    static func newChallengeToken() -> (token: String, digest: String) {
        let token = challengePrefix + Base64URL.random(byteCount: 32)
        return (token, BearerCredential.digest(token))
    }

    /// 16 characters of the base32 alphabet: 80 random bits.
    static func newRecoveryCode() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var generator = SystemRandomNumberGenerator()
        return String((0..<SecondFactorCode.recoveryCodeLength).map { _ in alphabet[Int.random(in: 0..<32, using: &generator)] })
    }

    /// `ABCD-EFGH-JKLM-NPQR`: as shown, and accepted with or without the dashes.
    static func grouped(_ code: String) -> String {
        stride(from: 0, to: code.count, by: 4).map { start in
            String(code.dropFirst(start).prefix(4))
        }.joined(separator: "-")
    }

    /// What the store keeps of a recovery code (upper-case, no separators): its SHA-256, in hex.
    /// 80 random bits need no slow hash.
    package static func digest(recoveryCode: String) -> String {
        Hex.encode(SHA256.hash(data: Array(recoveryCode.utf8)))
    }
}
