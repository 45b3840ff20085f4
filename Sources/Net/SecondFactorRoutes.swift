import Domain
import Foundation
import Hummingbird
import Services

/// `/api/auth/mfa`: a local account's second factor (TOTP). Enrolment and its confirmation and
/// removal need the account signed in (`totp/…`); the steps of a sign-in need only the challenge
/// token a right password gave: `verify` (a code of the account's second factor), or, when an
/// `mfa_required` policy refused the sign-in for want of one, `enroll` and `confirm`.
struct SecondFactorRoutes {
    let signIn: SignIn

    struct Verification: Decodable {
        var mfaToken: String
        var code: String

        enum CodingKeys: String, CodingKey {
            case mfaToken = "mfa_token"
            case code
        }
    }

    struct Enrolled: Encodable, Sendable {
        var secret: String
        var otpauthURI: String
        var recoveryCodes: [String]

        enum CodingKeys: String, CodingKey {
            case secret
            case otpauthURI = "otpauth_uri"
            case recoveryCodes = "recovery_codes"
        }

        init(_ enrollment: SecondFactors.Enrollment) {
            secret = enrollment.secret
            otpauthURI = enrollment.otpauthURI
            recoveryCodes = enrollment.recoveryCodes
        }
    }

    struct Confirmation: Decodable {
        var code: String
    }

    struct Challenge: Decodable {
        var mfaToken: String

        enum CodingKeys: String, CodingKey {
            case mfaToken = "mfa_token"
        }
    }

    struct Removal: Decodable {
        var password: String
        var code: String?
    }

    /// The account's MFA state after a change.
    struct State: Encodable, Sendable {
        var message: String
        var mfaEnabled: Bool
    }

    func register(open: RouterGroup<PortalRequestContext>, signedIn: RouterGroup<SignedInContext>) {
        open.post("verify", use: verify)
        open.post("enroll", use: enrollToSignIn)
        open.post("confirm", use: confirmToSignIn)
        signedIn.post("totp/enroll", use: enroll)
        signedIn.post("totp/confirm", use: confirm)
        signedIn.delete("totp", use: remove)
    }

    @Sendable func verify(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<AuthRoutes.SignedIn> {
        let body = try await request.decodeJSON(Verification.self, context: context)
        let grant = try await signIn.verifySecondFactor(challengeToken: body.mfaToken, code: body.code, from: context.clientAddress)
        return JSONBody(AuthRoutes.SignedIn(grant))
    }

    /// `{mfa_token}` from the 403 of a sign-in an `mfa_required` policy refused: a key and
    /// recovery codes for the account, as `totp/enroll` gives a signed-in one.
    @Sendable func enrollToSignIn(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<Enrolled> {
        let body = try await request.decodeJSON(Challenge.self, context: context)
        return JSONBody(Enrolled(try await signIn.beginEnrollment(challengeToken: body.mfaToken, from: context.clientAddress)))
    }

    /// `{mfa_token, code}`: the authenticator's current code confirms the enrolment and completes
    /// the sign-in (the usual token response, MFA-verified).
    @Sendable func confirmToSignIn(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<AuthRoutes.SignedIn> {
        let body = try await request.decodeJSON(Verification.self, context: context)
        let grant = try await signIn.completeEnrollment(challengeToken: body.mfaToken, code: body.code, from: context.clientAddress)
        return JSONBody(AuthRoutes.SignedIn(grant))
    }

    @Sendable func enroll(_ request: Request, context: SignedInContext) async throws -> JSONBody<Enrolled> {
        JSONBody(Enrolled(try await signIn.secondFactors.enroll(context.principal, from: context.clientAddress)))
    }

    @Sendable func confirm(_ request: Request, context: SignedInContext) async throws -> JSONBody<State> {
        let body = try await request.decodeJSON(Confirmation.self, context: context)
        try await signIn.secondFactors.confirm(context.principal, code: body.code, from: context.clientAddress)
        return JSONBody(State(message: "MFA enabled", mfaEnabled: true))
    }

    /// `{password, code}`: the account's password and a code from its authenticator or a recovery
    /// code (`code` may be left out only while the enrolment is still pending).
    @Sendable func remove(_ request: Request, context: SignedInContext) async throws -> JSONBody<State> {
        let body = try await request.decodeJSON(Removal.self, context: context)
        try await signIn.removeSecondFactor(
            of: context.principal, password: body.password, code: body.code, from: context.clientAddress)
        return JSONBody(State(message: "MFA removed", mfaEnabled: false))
    }
}
