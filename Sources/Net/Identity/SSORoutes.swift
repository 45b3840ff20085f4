import Actors
import Crypto
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Integrations
import Services

/// `/api/auth`: sign-in through the OpenID provider — the code exchange for single-page apps,
/// an ID token the client already holds, and the server-side browser flow. Each ends in a NeoSC
/// session like a local login, or in a 401 and a `sso_login_failed` audit entry with the reason.
struct SSORoutes {
    let federation: Federation
    let accounts: ExternalAccounts
    let clock: WallClock
    /// Where the browser flow ends without `NEOSC_PORTAL_URL`: NeoSC's own portal, signed in.
    let browser: BrowserSession
    /// For the session the browser flow replaces, when the browser that began it was signed in.
    let signIn: SignIn
    let replacement: SessionReplacement

    struct CodeExchange: Decodable {
        var code: String
        var codeVerifier: String
        var redirectURI: String
        var nonce: String?

        enum CodingKeys: String, CodingKey {
            case code, nonce
            case codeVerifier = "code_verifier"
            case redirectURI = "redirect_uri"
        }
    }

    struct IDTokenSignIn: Decodable {
        var idToken: String

        enum CodingKeys: String, CodingKey { case idToken = "id_token" }
    }

    /// The cookie that ties a browser sign-in to the browser that began it. Over https it is a
    /// `__Host-` cookie (so `Path=/`): a sibling subdomain cannot set one, and with its own
    /// sign-in's `state` sign a victim's browser in to the sibling's account.
    struct StateCookie {
        let name: String
        let path: String
        let secure: Bool

        init(callbackURL: String) {
            secure = callbackURL.lowercased().hasPrefix("https://")
            name = secure ? "__Host-neosc_oidc_state" : "neosc_oidc_state"
            path = secure ? "/" : "/api/auth/oidc"
        }

        func cookie(_ value: String, maxAge: Int) -> Cookie {
            Cookie(name: name, value: value, maxAge: maxAge, path: path, secure: secure, httpOnly: true, sameSite: .lax)
        }
    }

    func register(on group: RouterGroup<PortalRequestContext>) {
        group.post("token-exchange", use: tokenExchange)
        group.post("sso", use: sso)
        group.get("oidc/start", use: start)
        group.get("oidc/callback", use: callback)
    }

    @Sendable func tokenExchange(
        _ request: Request, context: PortalRequestContext
    ) async throws
        -> JSONBody<AuthRoutes.SignedIn>
    {
        let provider = try requireProvider()
        let body = try await request.decodeJSON(CodeExchange.self, context: context)
        try Self.requireCode(body.code)
        try Self.requireCodeVerifier(body.codeVerifier)
        return try await signIn(method: "token_exchange", context: context) {
            // With no allow-list, any http(s) URL: the provider checks it against the client's own.
            // A scheme is case-insensitive (RFC 3986 §3.1): `HTTPS://` is a web URL too.
            let allowed = provider.settings.allowedRedirectURIs
            let isWebURL = URL(string: body.redirectURI)?.scheme.map { ["http", "https"].contains($0.lowercased()) } ?? false
            guard allowed.isEmpty ? isWebURL : allowed.contains(body.redirectURI) else {
                throw SignInFailure.redirectNotAllowed
            }
            let idToken = try await provider.exchange(
                code: body.code, codeVerifier: body.codeVerifier, redirectURI: body.redirectURI)
            return try await provider.identity(fromIDToken: idToken, expectedNonce: body.nonce, requireNonce: false)
        }
    }

    @Sendable func sso(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<AuthRoutes.SignedIn> {
        let provider = try requireProvider()
        let body = try await request.decodeJSON(IDTokenSignIn.self, context: context)
        return try await signIn(method: "id_token", context: context) {
            // A bare ID token can be replayed by whoever saw it; its nonce is redeemed once.
            try await provider.identity(fromIDToken: body.idToken, expectedNonce: nil, requireNonce: true)
        }
    }

    /// Redirects the browser to the provider with PKCE (S256), `state` and `nonce`; `state` is
    /// also set in an HttpOnly cookie, so the callback only completes in the browser that started.
    @Sendable func start(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let provider = try requireProvider()
        guard let callbackURL = provider.settings.callbackURL else {
            throw DomainError.notFound("Browser sign-in is not configured (NEOSC_PUBLIC_URL)")
        }
        let state = Base64URL.random(byteCount: 32)
        let nonce = Base64URL.random(byteCount: 32)
        let verifier = Base64URL.random(byteCount: 32)
        let challenge = Base64URL.encode(SHA256.hash(data: Array(verifier.utf8)))
        let location = try await provider.authorizationURL(
            state: state, nonce: nonce, codeChallenge: challenge, redirectURI: callbackURL)
        await federation.pendingSignIns.begin(
            state: state,
            .init(
                codeVerifier: verifier, nonce: nonce, startedAt: clock.now(),
                // Only NeoSC's own portal gets the session cookie at the end: nothing to replace else.
                replacing: provider.settings.portalURL == nil ? await signedIn(request) : nil),
            from: context.clientAddress)
        var response = Response(status: .found, headers: [.location: location])
        response.setCookie(StateCookie(callbackURL: callbackURL).cookie(state, maxAge: 600))
        return response
    }

    @Sendable func callback(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let provider = try requireProvider()
        guard let callbackURL = provider.settings.callbackURL else {
            throw DomainError.notFound("Browser sign-in is not configured (NEOSC_PUBLIC_URL)")
        }
        let state = try request.queryValue("state") ?? ""
        let code = try request.queryValue("code")
        let providerError = try request.queryValue("error")
        let stateCookie = StateCookie(callbackURL: callbackURL)
        let cookie = request.cookies[stateCookie.name]?.value ?? ""
        var replacing: Principal?
        let signedIn = try await signIn(method: "browser", context: context) {
            guard !state.isEmpty, ConstantTime.equal(state, cookie),
                let pending = await federation.pendingSignIns.take(state: state)
            else { throw SignInFailure.unknownState }
            replacing = pending.replacing
            if providerError != nil { throw SignInFailure.providerError }
            guard let code else { throw SignInFailure.codeRejected }
            try Self.requireCode(code)
            let idToken = try await provider.exchange(code: code, codeVerifier: pending.codeVerifier, redirectURI: callbackURL)
            return try await provider.identity(fromIDToken: idToken, expectedNonce: pending.nonce, requireNonce: true)
        }.value
        var response: Response
        if let portalURL = provider.settings.portalURL {
            // An external portal (NEOSC_PORTAL_URL): the session travels in the fragment, which
            // browsers never send to a server or a log.
            let fragment = FormEncoding.encode([
                ("access_token", signedIn.accessToken), ("token_type", signedIn.tokenType),
                ("expires_at", signedIn.expiresAt.formatted(.iso8601)),
            ])
            response = Response(status: .seeOther, headers: [.location: portalURL + "#" + fragment])
        } else {
            // NeoSC's own portal: the token goes into the session cookie, as a page sign-in does.
            // Not a redirect: the navigation began at the provider, so the browser would not send
            // a SameSite=Strict cookie with it; a page of ours moving on to `/` is same-site.
            let page =
                #"<!doctype html><html lang="en"><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/"><title>Signed in · NeoSC</title><p><a href="/">Continue to NeoSC</a></p></html>"#
            response = Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: page)))
            PageRenderer.secure(&response.headers)
            response.setCookie(browser.session(token: signedIn.accessToken, expiresAt: signedIn.expiresAt, now: clock.now()))
            if let replacing {
                await replacement.replace(replacing, from: context.clientAddress, logger: context.logger)
            }
        }
        response.setCookie(stateCookie.cookie("", maxAge: 0))
        return response
    }

    // MARK: - Shared

    /// Who the browser sending `request` is signed in as on NeoSC's own pages (its session
    /// cookie), if anyone.
    private func signedIn(_ request: Request) async -> Principal? {
        guard let token = browser.sessionToken(in: request) else { return nil }
        return try? await signIn.identity(forToken: token).get().principal
    }

    private func requireProvider() throws -> OIDCProvider {
        guard let provider = federation.oidc else {
            throw DomainError.notFound("Single sign-on is not configured (ZITADEL_AUTHORITY)")
        }
        return provider
    }

    /// Runs `verify`, then signs the account in; every failure is audited with its reason.
    private func signIn(
        method: String, context: PortalRequestContext, verify: () async throws -> ExternalIdentity
    ) async throws -> JSONBody<AuthRoutes.SignedIn> {
        let external: ExternalIdentity
        let user: User
        var verified: ExternalIdentity?
        do {
            external = try await verify()
            verified = external
            user = try await accounts.account(for: external, from: context.clientAddress)
        } catch let rejection as TokenRejection {
            try await accounts.refused(method: method, reason: rejection.rawValue, identity: verified, from: context.clientAddress)
            throw rejection.domainError
        } catch let failure as SignInFailure {
            try await accounts.refused(method: method, reason: failure.rawValue, from: context.clientAddress)
            throw failure == .redirectNotAllowed
                ? DomainError.invalid(failure.detail) : DomainError.unauthenticated(failure.detail)
        } catch let error as DomainError {
            try await accounts.refused(
                method: method, reason: Self.reason(for: error), detail: error.detail, identity: verified, from: context.clientAddress)
            throw error
        }
        return JSONBody(AuthRoutes.SignedIn(try await accounts.signIn(external, as: user, method: method, from: context.clientAddress)))
    }

    private static func reason(for error: DomainError) -> String {
        switch error {
        case .forbidden: "not_allowed"
        case .conflict: "account_conflict"
        case .unavailable: "provider_unavailable"
        default: "invalid_request"
        }
    }

    private static func requireCode(_ code: String) throws(DomainError) {
        guard (1...2_048).contains(code.utf8.count) else { throw .invalid("code must be 1 to 2048 characters") }
    }

    /// RFC 7636 §4.1: 43 to 128 unreserved characters.
    private static func requireCodeVerifier(_ verifier: String) throws(DomainError) {
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        guard (43...128).contains(verifier.count), verifier.allSatisfy(unreserved.contains) else {
            throw .invalid("code_verifier must be 43 to 128 unreserved characters (RFC 7636)")
        }
    }
}
