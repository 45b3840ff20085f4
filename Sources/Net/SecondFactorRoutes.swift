import Domain
import Foundation
import Hummingbird
import Services

/// `/api/auth/mfa`: a local account's second factor (TOTP). Enrolment and its confirmation and
/// removal need the account signed in; the second step of a sign-in (`verify`) needs only the
/// challenge token a right password gave.
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
    }

    struct Confirmation: Decodable {
        var code: String
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
        signedIn.post("totp/enroll", use: enroll)
        signedIn.post("totp/confirm", use: confirm)
        signedIn.delete("totp", use: remove)
    }

    @Sendable func verify(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<AuthRoutes.SignedIn> {
        let body = try await request.decodeJSON(Verification.self, context: context)
        let grant = try await signIn.verifySecondFactor(challengeToken: body.mfaToken, code: body.code, from: context.clientAddress)
        return JSONBody(AuthRoutes.SignedIn(grant))
    }

    @Sendable func enroll(_ request: Request, context: SignedInContext) async throws -> JSONBody<Enrolled> {
        let enrollment = try await signIn.secondFactors.enroll(context.principal, from: context.clientAddress)
        return JSONBody(
            Enrolled(secret: enrollment.secret, otpauthURI: enrollment.otpauthURI, recoveryCodes: enrollment.recoveryCodes))
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
