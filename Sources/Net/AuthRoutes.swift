import Actors
import Domain
import Foundation
import Hummingbird
import Services

/// `/api/auth`: local accounts — register, login, logout, me.
struct AuthRoutes {
    let signIn: SignIn
    let demos: DemoLifecycle
    /// Pomerium's sign-out, which a logout behind Pomerium answers (nil in local mode).
    var pomeriumSignOutURL: String? = nil

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

        init(accessToken: String, expiresAt: Date, user: UserView) {
            self.accessToken = accessToken
            self.expiresAt = expiresAt
            self.user = user
        }

        init(_ grant: Services.SignIn.Grant) {
            self.init(accessToken: grant.token, expiresAt: grant.expiresAt, user: UserView(grant.user, organization: grant.organization))
        }
    }

    /// A right password for an account with a second factor: present a code with `mfa_token`
    /// at `POST /api/auth/mfa/verify` before `expires_at`.
    struct SecondFactorRequired: Encodable, Sendable {
        var mfaRequired = true
        var mfaToken: String
        var expiresAt: Date
    }

    struct PasswordChange: Decodable {
        var email: String?
        var currentPassword: String
        var newPassword: String
        /// Without a token, for an account with a second factor.
        var code: String?

        enum CodingKeys: String, CodingKey {
            case email, code
            case currentPassword = "current_password"
            case newPassword = "new_password"
        }
    }

    struct PasswordChanged: Encodable, Sendable {
        var message: String
        var tokensRevoked: Int
    }

    struct SignedOut: Encodable, Sendable {
        var message: String
        var sessionsTerminated: Int
        /// Behind Pomerium: where the browser goes next to end its Pomerium session too.
        var signoutURL: String?

        enum CodingKeys: String, CodingKey {
            case message
            case sessionsTerminated = "sessions_terminated"
            case signoutURL = "signout_url"
        }
    }

    func register(open: RouterGroup<PortalRequestContext>, signedIn: RouterGroup<SignedInContext>) {
        open.post("register", use: register)
        open.post("login", use: login)
        open.post("password", use: changePassword)
        signedIn.post("logout", use: logout)
        signedIn.get("me", use: me)
    }

    @Sendable func register(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<SignedIn> {
        let grant = try await signIn.register(from: context.clientAddress) {
            let body = try await request.decodeJSON(Registration.self, context: context)
            return .init(email: body.email, password: body.password, name: body.name, organization: body.organization)
        }
        return JSONBody(SignedIn(grant), status: .created)
    }

    @Sendable func login(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let body = try await request.decodeJSON(Credentials.self, context: context)
        let outcome = try await signIn.logIn(email: body.email, password: body.password, from: context.clientAddress)
        return try Self.response(outcome, from: request, context: context)
    }

    static func response(
        _ outcome: Services.SignIn.Outcome, from request: Request, context: some RequestContext
    ) throws -> Response {
        switch outcome {
        case .signedIn(let grant):
            try JSONBody(SignedIn(grant)).response(from: request, context: context)
        case .secondFactorRequired(let challenge):
            try JSONBody(SecondFactorRequired(mfaToken: challenge.token, expiresAt: challenge.expiresAt))
                .response(from: request, context: context)
        }
    }

    /// Signed in: `{current_password, new_password}` → `{message, tokens_revoked}` (every other
    /// token revoked). Without a token, for an account whose password an administrator reset:
    /// `{email, current_password, new_password}` → signed in, as a login answers.
    @Sendable func changePassword(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let body = try await request.decodeJSON(PasswordChange.self, context: context)
        if let identity = context.identity {
            let revoked = try await signIn.changePassword(
                of: identity.principal, current: body.currentPassword, new: body.newPassword, from: context.clientAddress)
            return try JSONBody(PasswordChanged(message: "Password changed", tokensRevoked: revoked))
                .response(from: request, context: context)
        }
        // A credential that was sent but refused is an error, not an absent one.
        if let problem = context.credentialProblem { throw DomainError.unauthenticated(problem) }
        guard let email = body.email else {
            throw DomainError.unauthenticated("Sign in, or send the account's email with its current password")
        }
        let outcome = try await signIn.changePassword(
            email: email, current: body.currentPassword, new: body.newPassword, code: body.code, from: context.clientAddress)
        return try Self.response(outcome, from: request, context: context)
    }

    @Sendable func logout(_ request: Request, context: SignedInContext) async throws -> JSONBody<SignedOut> {
        let ended = try await signIn.logOut(context.principal, from: context.clientAddress)
        await demos.signedOut(context.principal)
        return JSONBody(SignedOut(message: "Logged out", sessionsTerminated: ended, signoutURL: pomeriumSignOutURL))
    }

    /// The caller's account as the identity cache holds it: every change to an account through
    /// NeoSC evicts its tokens, so this is current without a store read.
    @Sendable func me(_ request: Request, context: SignedInContext) async throws -> WrittenJSON {
        let identity = context.identity
        return .user(UserView(identity.user, organization: identity.organization))
    }
}
