import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Services
import TestSupport
import Testing

@testable import App
@testable import Net

/// MFA for local accounts (TOTP, RFC 6238): enrolment, the two-step sign-in, replay, throttling,
/// recovery codes, removal and an administrator's reset, on every store.
@Suite("Second factors: TOTP enrolment, two-step sign-in, recovery codes, reset")
struct SecondFactorTests {
    struct ChallengeBody: Decodable {
        let mfaRequired: Bool
        let mfaToken: String
        let expiresAt: Date

        enum CodingKeys: String, CodingKey {
            case mfaRequired = "mfa_required"
            case mfaToken = "mfa_token"
            case expiresAt = "expires_at"
        }
    }

    struct EnrolledBody: Decodable {
        let secret: String
        let otpauthURI: String
        let recoveryCodes: [String]

        enum CodingKeys: String, CodingKey {
            case secret
            case otpauthURI = "otpauth_uri"
            case recoveryCodes = "recovery_codes"
        }
    }

    /// RFC 4648 base32, as an authenticator reads the key.
    static func base32Decoded(_ text: String) -> [UInt8]? {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var bits = 0
        var value = 0
        var bytes: [UInt8] = []
        for character in text where character != "=" {
            guard let index = alphabet.firstIndex(of: character) else { return nil }
            value = (value << 5) | index
            bits += 5
            if bits >= 8 {
                bytes.append(UInt8((value >> (bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        return bytes
    }

    /// The code an authenticator holding `base32` shows at `date`.
    static func code(_ base32: String, at date: Date) throws -> String {
        let key = try #require(base32Decoded(base32))
        return HummingbirdTOTP().code(secret: String(decoding: key, as: UTF8.self), step: TOTPWindow.step(at: date))
    }

    @Test("the codes are RFC 6238's (its SHA-1 test vectors), and the otpauth URI carries the key in base32")
    func rfc6238Vectors() throws {
        let totp = HummingbirdTOTP()
        let key = "12345678901234567890"
        // RFC 6238 Appendix B, SHA-1: the last six of its eight digits.
        let vectors: [(Int64, String)] = [
            (59, "287082"), (1_111_111_109, "081804"), (1_111_111_111, "050471"), (1_234_567_890, "005924"),
            (2_000_000_000, "279037"), (20_000_000_000, "353130"),
        ]
        for (time, expected) in vectors {
            #expect(totp.code(secret: key, step: time / 30) == expected, "T = \(time)")
        }
        let (base32, uri) = totp.provisioning(secret: key, account: "ada@example.com", issuer: "NeoSC")
        #expect(Self.base32Decoded(base32) == Array(key.utf8))
        #expect(uri == "otpauth://totp/NeoSC:ada@example.com?secret=\(base32)&issuer=NeoSC")
    }

    @Test("codes are read as six digits or a recovery code; one step either side is accepted, two are not")
    func codesAndWindow() throws {
        #expect(try SecondFactorCode(" 123 456 ") == .totp("123456"))
        #expect(try SecondFactorCode("abcd-efgh-ijkl-mnop") == .recovery("ABCDEFGHIJKLMNOP"))
        for bad in ["12345", "1234567", "12345a", "ABCD-EFGH-IJKL-MNO1", "", String(repeating: "1", count: 100)] {
            #expect(throws: DomainError.self) { try SecondFactorCode(bad) }
        }
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let step = TOTPWindow.step(at: now)
        let codeOf = { (step: Int64) in String(step % 1_000_000) }
        for offset: Int64 in [-1, 0, 1] {
            #expect(TOTPWindow.matchingStep(of: codeOf(step + offset), at: now, codeOf: codeOf) == step + offset)
        }
        for offset: Int64 in [-2, 2] {
            #expect(TOTPWindow.matchingStep(of: codeOf(step + offset), at: now, codeOf: codeOf) == nil)
        }
    }

    @Test(
        "enrol, confirm, then sign in in two steps: the password alone gives no access, a code is accepted once, a recovery code once",
        arguments: StoreKind.allCases)
    func twoStepSignIn(kind: StoreKind) async throws {
        let clock = ManualClock()
        try await Harness.run(store: kind, clock: clock.wallClock) { harness, client in
            let email = "mira@example.com"
            let registered = try await client.send(
                .post, "/api/auth/register", json: body(["email": email, "password": Harness.password, "name": "Mira"]))
            let token = try registered.decoded(SignedInBody.self).accessToken
            let userID = try registered.decoded(SignedInBody.self).user.id
            func login() async throws -> Reply {
                try await client.send(.post, "/api/auth/login", json: body(["email": email, "password": Harness.password]))
            }
            func verify(_ mfaToken: String, _ code: String) async throws -> Reply {
                try await client.send(.post, "/api/auth/mfa/verify", json: body(["mfa_token": mfaToken, "code": code]))
            }

            let enrolled = try await client.send(.post, "/api/auth/mfa/totp/enroll", token: token)
            #expect(enrolled.status == .ok, "\(enrolled.text)")
            let enrollment = try enrolled.decoded(EnrolledBody.self)
            #expect(enrollment.otpauthURI == "otpauth://totp/NeoSC:\(email)?secret=\(enrollment.secret)&issuer=NeoSC")
            #expect(enrollment.recoveryCodes.count == 10 && Set(enrollment.recoveryCodes).count == 10)
            let stored = try #require(try await harness.store.totpEnrollment(userID: userID))
            #expect(Self.base32Decoded(enrollment.secret) == Array(stored.secret.utf8), "the key shown is the key kept")
            #expect(
                stored.recoveryCodeDigests
                    == enrollment.recoveryCodes.map { SecondFactors.digest(recoveryCode: $0.replacingOccurrences(of: "-", with: "")) },
                "only the codes' digests are kept")
            #expect(!stored.recoveryCodeDigests.contains { enrollment.recoveryCodes.contains($0) })

            // Pending: not asked for at sign-in, not `mfa_enabled`.
            #expect(try await login().decoded(SignedInBody.self).user.mfaEnabled == false)
            let wrong = try await client.send(.post, "/api/auth/mfa/totp/confirm", token: token, json: body(["code": "000000"]))
            #expect(wrong.status == .unprocessableContent, "\(wrong.text)")
            let recoveryToConfirm = try await client.send(
                .post, "/api/auth/mfa/totp/confirm", token: token, json: body(["code": enrollment.recoveryCodes[0]]))
            #expect(recoveryToConfirm.status == .unprocessableContent, "a recovery code does not prove the authenticator")
            let confirmed = try await client.send(
                .post, "/api/auth/mfa/totp/confirm", token: token, json: body(["code": try Self.code(enrollment.secret, at: clock.now)]))
            #expect(confirmed.status == .ok, "\(confirmed.text)")
            #expect(try await client.send(.get, "/api/auth/me", token: token).decoded(UserBody.self).mfaEnabled)
            let again = try await client.send(.post, "/api/auth/mfa/totp/enroll", token: token)
            #expect(again.status == .conflict, "a confirmed enrolment is removed before another")

            // The password alone: a challenge, which is no credential.
            let challenged = try await login()
            #expect(challenged.status == .ok)
            #expect(challenged["access_token"] == nil)
            let challenge = try challenged.decoded(ChallengeBody.self)
            #expect(challenge.mfaRequired && challenge.expiresAt == clock.now.addingTimeInterval(300))
            #expect(try await client.send(.get, "/api/auth/me", token: challenge.mfaToken).status == .unauthorized)

            // The code used to confirm is spent: the same step is refused, and counted.
            let replayed = try await verify(challenge.mfaToken, try Self.code(enrollment.secret, at: clock.now))
            #expect(replayed.status == .unauthorized, "\(replayed.text)")
            #expect(try await verify("neosc_mfa_forged", "123456").status == .unauthorized)
            clock.advance(30)
            let code = try Self.code(enrollment.secret, at: clock.now)
            let signedIn = try await verify(challenge.mfaToken, code)
            #expect(signedIn.status == .ok, "\(signedIn.text)")
            let session = try signedIn.decoded(SignedInBody.self)
            #expect(session.user.mfaEnabled)
            #expect(try await client.send(.get, "/api/auth/me", token: session.accessToken).status == .ok)
            let record = try #require(try await harness.store.token(digest: BearerCredential.digest(session.accessToken)))
            #expect(record.mfaVerified, "a token won with a second factor says so")
            #expect(try await verify(challenge.mfaToken, code).status == .unauthorized, "a challenge is spent once")

            // A recovery code, once, in any case and with or without its dashes.
            let recovery = enrollment.recoveryCodes[3]
            let second = try await login().decoded(ChallengeBody.self)
            #expect(try await verify(second.mfaToken, code).status == .unauthorized, "the same code is not accepted twice")
            let byRecovery = try await verify(second.mfaToken, recovery.lowercased().replacingOccurrences(of: "-", with: ""))
            #expect(byRecovery.status == .ok, "\(byRecovery.text)")
            let third = try await login().decoded(ChallengeBody.self)
            #expect(try await verify(third.mfaToken, recovery).status == .unauthorized, "a recovery code is used once")
            #expect(try await harness.store.totpEnrollment(userID: userID)?.recoveryCodeDigests.count == 9)

            let audited = try await harness.store.events(AuditQuery(limit: 100))
            func entries(_ action: AuditAction) -> [AuditEvent] { audited.filter { $0.action == action } }
            #expect(entries(.mfaEnrollmentStarted).count == 1 && entries(.mfaEnrolled).count == 1)
            #expect(entries(.mfaVerified).compactMap { $0.details["method"] }.sorted() == ["recovery_code", "totp"])
            #expect(entries(.recoveryCodeUsed).count == 1)
            #expect(
                entries(.mfaFailed).compactMap { $0.details["reason"] }.sorted()
                    == ["code_replayed", "code_replayed", "wrong_code", "wrong_recovery_code"])
            #expect(entries(.login).compactMap { $0.details["method"] }.filter { $0.hasPrefix("password+") }.count == 2)
            // Each right password opened a second step, a code following it or not (a probe: a
            // stolen password could be tried, and confirmed, without a trace).
            #expect(entries(.mfaChallenged).count == 3 && entries(.mfaChallenged).allSatisfy { $0.userID == userID })
        }
    }

    @Test(
        "wrong codes are throttled per account: the sixth attempt is refused even with the right code, until the window passes",
        arguments: StoreKind.allCases)
    func wrongCodesAreThrottled(kind: StoreKind) async throws {
        let clock = ManualClock()
        try await Harness.run(store: kind, clock: clock.wallClock) { harness, client in
            let (user, token) = try await harness.account(.user, email: "noor@example.com")
            let secret = try await Self.enrollAndConfirm(client, token: token, clock: clock)
            func challenge() async throws -> String {
                let reply = try await client.send(
                    .post, "/api/auth/login", json: body(["email": user.email, "password": Harness.password]))
                return try reply.decoded(ChallengeBody.self).mfaToken
            }
            clock.advance(30)
            let mfaToken = try await challenge()
            for _ in 0..<SecondFactors.failureLimit {
                let reply = try await client.send(
                    .post, "/api/auth/mfa/verify", json: body(["mfa_token": mfaToken, "code": "999999"]))
                #expect(reply.status == .unauthorized)
            }
            let held = try await client.send(
                .post, "/api/auth/mfa/verify",
                json: body(["mfa_token": mfaToken, "code": try Self.code(secret, at: clock.now)]))
            #expect(held.status == .tooManyRequests, "\(held.text)")
            #expect(Int(held.headers[.retryAfter] ?? "") ?? 0 > 0)
            clock.advance(901)
            let later = try await client.send(
                .post, "/api/auth/mfa/verify",
                json: body(["mfa_token": try await challenge(), "code": try Self.code(secret, at: clock.now)]))
            #expect(later.status == .ok, "\(later.text)")
            let throttled = try await harness.store.events(AuditQuery(action: .mfaFailed, limit: 20))
            #expect(throttled.filter { $0.details["reason"] == "throttled" }.count == 1)
        }
    }

    @Test("a challenge expires after five minutes, and ends with its account", arguments: StoreKind.allCases)
    func challengesExpire(kind: StoreKind) async throws {
        let clock = ManualClock()
        try await Harness.run(store: kind, clock: clock.wallClock) { harness, client in
            let (user, token) = try await harness.account(.user, email: "ivo@example.com")
            let secret = try await Self.enrollAndConfirm(client, token: token, clock: clock)
            func challenge() async throws -> String {
                try await client.send(.post, "/api/auth/login", json: body(["email": user.email, "password": Harness.password]))
                    .decoded(ChallengeBody.self).mfaToken
            }
            let old = try await challenge()
            clock.advance(301)
            let late = try await client.send(
                .post, "/api/auth/mfa/verify", json: body(["mfa_token": old, "code": try Self.code(secret, at: clock.now)]))
            #expect(late.status == .unauthorized, "\(late.text)")

            let pending = try await challenge()
            let admin = try await harness.account(.admin).token
            #expect(
                try await client.send(.patch, "/api/users/\(user.id)", token: admin, json: body(["disabled": true])).status == .ok)
            clock.advance(30)
            let disabled = try await client.send(
                .post, "/api/auth/mfa/verify", json: body(["mfa_token": pending, "code": try Self.code(secret, at: clock.now)]))
            #expect(disabled.status == .unauthorized)
        }
    }

    @Test("removal needs the password and a code; an administrator's reset needs neither; both audited", arguments: StoreKind.allCases)
    func removalAndReset(kind: StoreKind) async throws {
        let clock = ManualClock()
        try await Harness.run(store: kind, clock: clock.wallClock) { harness, client in
            let (user, token) = try await harness.account(.neosc, email: "sol@example.com")
            let secret = try await Self.enrollAndConfirm(client, token: token, clock: clock)
            clock.advance(30)
            func remove(_ fields: [String: Any]) async throws -> Reply {
                try await client.send(.delete, "/api/auth/mfa/totp", token: token, json: body(fields))
            }
            let wrongPassword = try await remove(["password": "not the password", "code": try Self.code(secret, at: clock.now)])
            #expect(wrongPassword.status == .unprocessableContent, "\(wrongPassword.text)")
            #expect(try await remove(["password": Harness.password, "code": "000000"]).status == .unprocessableContent)
            #expect(try await remove(["password": Harness.password]).status == .unprocessableContent, "no code, no removal")
            let removed = try await remove(["password": Harness.password, "code": try Self.code(secret, at: clock.now)])
            #expect(removed.status == .ok, "\(removed.text)")
            #expect(try await client.send(.get, "/api/auth/me", token: token).decoded(UserBody.self).mfaEnabled == false)
            let plain = try await client.send(
                .post, "/api/auth/login", json: body(["email": user.email, "password": Harness.password]))
            #expect(try plain.decoded(SignedInBody.self).user.mfaEnabled == false, "\(plain.text)")

            // An administrator resets an account's second factor; nobody else may.
            clock.advance(30)
            _ = try await Self.enrollAndConfirm(client, token: token, clock: clock)
            let admin = try await harness.account(.admin).token
            #expect(try await client.send(.delete, "/api/users/\(user.id)/mfa", token: token).status == .forbidden)
            #expect(try await client.send(.delete, "/api/users/usr-nobody/mfa", token: admin).status == .notFound)
            let reset = try await client.send(.delete, "/api/users/\(user.id)/mfa", token: admin)
            #expect(reset.status == .ok, "\(reset.text)")
            #expect(try await client.send(.delete, "/api/users/\(user.id)/mfa", token: admin).status == .conflict)
            #expect(try await harness.store.user(id: user.id)?.mfaEnabled == false)

            let resets = try await harness.store.events(AuditQuery(action: .mfaReset, limit: 10))
            #expect(resets.filter(\.success).compactMap { $0.details["by"] }.sorted() == ["administrator", "self"])
            #expect(resets.filter { !$0.success }.count == 1, "the wrong password is audited")
        }
    }

    @Test("accounts of an identity provider and demo accounts cannot enrol", arguments: StoreKind.allCases)
    func whoCannotEnrol(kind: StoreKind) async throws {
        try await Harness.run(store: kind) { harness, client in
            let demo = try await harness.account(.demoUser).token
            #expect(try await client.send(.post, "/api/auth/mfa/totp/enroll", token: demo).status == .forbidden)
            let now = Date()
            let sso = User(
                id: Identifier.make("usr"), email: "sso@example.com", name: "SSO", organizationID: nil, role: .user,
                passwordHash: nil, ssoProvider: "https://idp.example.com", ssoSubject: "s-1", createdAt: now, updatedAt: now)
            try await harness.store.insert(sso, creating: nil)
            let (token, digest) = BearerCredential.issue()
            try await harness.store.insert(
                AccessToken(digest: digest, userID: sso.id, issuedAt: now, expiresAt: now + 3_600, mfaVerified: true))
            #expect(try await client.send(.post, "/api/auth/mfa/totp/enroll", token: token).status == .conflict)
        }
    }

    /// Enrols the account behind `token` and confirms it with the current code; the key in base32.
    static func enrollAndConfirm(_ client: some TestClientProtocol, token: String, clock: ManualClock) async throws -> String {
        let enrollment = try await client.send(.post, "/api/auth/mfa/totp/enroll", token: token).decoded(EnrolledBody.self)
        let confirmed = try await client.send(
            .post, "/api/auth/mfa/totp/confirm", token: token, json: body(["code": try code(enrollment.secret, at: clock.now)]))
        #expect(confirmed.status == .ok, "\(confirmed.text)")
        return enrollment.secret
    }

    @Test("two verifications of one challenge at once, with the same code: exactly one signs in", arguments: StoreKind.allCases)
    func concurrentVerifications(kind: StoreKind) async throws {
        let clock = ManualClock()
        try await Harness.run(store: kind, clock: clock.wallClock) { harness, client in
            let (user, token) = try await harness.account(.user, email: "tam@example.com")
            let secret = try await Self.enrollAndConfirm(client, token: token, clock: clock)
            clock.advance(30)
            let mfaToken = try await client.send(
                .post, "/api/auth/login", json: body(["email": user.email, "password": Harness.password])
            ).decoded(ChallengeBody.self).mfaToken
            let code = try Self.code(secret, at: clock.now)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await client.send(.post, "/api/auth/mfa/verify", json: body(["mfa_token": mfaToken, "code": code])).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .ok }.count == 1, "\(statuses)")
            #expect(statuses.filter { $0 == .unauthorized }.count == 3, "\(statuses)")
        }
    }

    @Test(
        "a password change without a token needs the code of an account with a second factor, and signs it in verified", arguments: StoreKind.allCases
    )
    func passwordChangeWithoutATokenNeedsTheCode(kind: StoreKind) async throws {
        let clock = ManualClock()
        try await Harness.run(store: kind, clock: clock.wallClock) { harness, client in
            let (user, token) = try await harness.account(.user, email: "lou@example.com")
            let secret = try await Self.enrollAndConfirm(client, token: token, clock: clock)
            clock.advance(30)
            func change(_ fields: [String: Any]) async throws -> Reply {
                try await client.send(
                    .post, "/api/auth/password",
                    json: body(
                        ["email": user.email, "current_password": Harness.password, "new_password": "a password only I know"]
                            .merging(fields) { $1 }))
            }
            let withoutCode = try await change([:])
            #expect(withoutCode.status == .unauthorized, "\(withoutCode.text)")
            // Its answer tells a right password from a wrong one: audited as a sign-in's first step
            // is (a probe: a stolen password was confirmed here without a trace).
            let challenged = try await harness.store.events(AuditQuery(action: .mfaChallenged)).first
            #expect(challenged?.userID == user.id && challenged?.details["method"] == "password_change")
            // So is a code that is no code (the probe of the mends: 422, unaudited).
            #expect(try await change(["code": "1"]).status == .unprocessableContent)
            #expect(try await harness.store.events(AuditQuery(action: .mfaChallenged)).count == 2)
            #expect(try await change(["code": "000000"]).status == .unauthorized)
            #expect(try await client.send(.get, "/api/auth/me", token: token).status == .ok, "nothing changed, nothing revoked")
            let running = try await RoleMatrixTests.session(of: user, in: harness)
            let changed = try await change(["code": try Self.code(secret, at: clock.now)])
            #expect(changed.status == .ok, "\(changed.text)")
            #expect(try await harness.store.session(id: running)?.endReason == "password_changed", "its sessions end too")
            let session = try changed.decoded(SignedInBody.self)
            #expect(try await harness.store.token(digest: BearerCredential.digest(session.accessToken))?.mfaVerified == true)
            #expect(try await client.send(.get, "/api/auth/me", token: token).status == .unauthorized, "the old tokens end")
            let relogin = try await client.send(
                .post, "/api/auth/login", json: body(["email": user.email, "password": "a password only I know"]))
            #expect(try relogin.decoded(ChallengeBody.self).mfaRequired)
        }
    }

    @Test("a pending enrolment is removed with the password alone; a challenge ends when its second factor does", arguments: StoreKind.allCases)
    func pendingRemovalAndChallengesOfRemovedFactors(kind: StoreKind) async throws {
        let clock = ManualClock()
        try await Harness.run(store: kind, clock: clock.wallClock) { harness, client in
            let (user, token) = try await harness.account(.user, email: "kit@example.com")
            #expect(try await client.send(.post, "/api/auth/mfa/totp/enroll", token: token).status == .ok)
            let removed = try await client.send(
                .delete, "/api/auth/mfa/totp", token: token, json: body(["password": Harness.password]))
            #expect(removed.status == .ok, "\(removed.text)")
            #expect(try await harness.store.totpEnrollment(userID: user.id) == nil)
            let cancelled = try await harness.store.events(AuditQuery(action: .mfaReset)).first
            #expect(cancelled?.details == ["by": "self", "pending": "true"], "no second factor was removed: one was never confirmed")

            let secret = try await Self.enrollAndConfirm(client, token: token, clock: clock)
            let mfaToken = try await client.send(
                .post, "/api/auth/login", json: body(["email": user.email, "password": Harness.password])
            ).decoded(ChallengeBody.self).mfaToken
            let admin = try await harness.account(.admin).token
            #expect(try await client.send(.delete, "/api/users/\(user.id)/mfa", token: admin).status == .ok)
            clock.advance(30)
            let late = try await client.send(
                .post, "/api/auth/mfa/verify", json: body(["mfa_token": mfaToken, "code": try Self.code(secret, at: clock.now)]))
            #expect(late.status == .unauthorized, "\(late.text)")
        }
    }
}
