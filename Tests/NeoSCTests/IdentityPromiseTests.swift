import Crypto
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Net
import Synchronization
import TestSupport
import Testing

@testable import App

/// What docs/identity.md (and the identity lines of docs/api.md) promise about sign-in through an
/// OpenID provider and Pomerium, each checked over HTTP, with settings read from the environment
/// variables the docs name where they name one.
@Suite("Identity: what the docs promise")
struct IdentityPromiseTests {
    static let clientID = "neosc-portal"
    static let portalRedirect = "http://127.0.0.1:5173/auth/callback"
    static let route = "neosc.test"

    /// NeoSC configured from `environment` as `neosc serve` would read it (identity variables only).
    static func identity(from environment: [String: String]) throws -> (inout Configuration) -> Void {
        let parsed = try Configuration(environment: environment)
        return { configuration in
            configuration.oidc = parsed.oidc
            configuration.authMode = parsed.authMode
            configuration.pomerium = parsed.pomerium
            configuration.keyRefreshInterval = parsed.keyRefreshInterval
        }
    }

    static func oidc(_ issuer: String, extra: [String: String] = [:]) throws -> (inout Configuration) -> Void {
        try identity(
            from: [
                "ZITADEL_AUTHORITY": issuer, "ZITADEL_CLIENT_ID": clientID, "NEOSC_PUBLIC_URL": "http://127.0.0.1:8001",
                "NEOSC_JWKS_MIN_REFRESH": "1s",
            ].merging(extra) { $1 })
    }

    static func pomerium(_ signer: TestSigner, extra: [String: String] = [:]) throws -> (inout Configuration) -> Void {
        try identity(
            from: [
                "NEOSC_AUTH_MODE": "pomerium", "POMERIUM_JWKS_URL": signer.jwksURL, "POMERIUM_AUDIENCE": route,
                "NEOSC_JWKS_MIN_REFRESH": "1s",
            ].merging(extra) { $1 })
    }

    static func assertionHeaders(_ assertion: String) -> HTTPFields {
        [HTTPField.Name("X-Pomerium-Jwt-Assertion")!: assertion]
    }

    /// An assertion as Pomerium mints it, `iss` and `aud` the route host unless `extra` says otherwise.
    static func assertion(
        _ signer: TestSigner, subject: String, groups: [String] = ["neosc"], extra: [String: any Sendable] = [:]
    ) -> String {
        signer.token(
            signer.claims(
                subject: subject, audience: route,
                extra: ["iss": route, "email": "\(subject)@example.com", "groups": groups].merging(extra) { $1 }))
    }

    static func reasons(_ harness: Harness, _ action: AuditAction) async throws -> [String] {
        try await harness.store.events(AuditQuery(action: action, limit: 200)).compactMap { $0.details["reason"] }
    }

    /// A PKCE verifier as RFC 7636 wants it.
    static func verifier() -> String {
        TestSigner.base64URL((0..<32).map { _ in UInt8.random(in: 0...255) })
    }

    // MARK: - Pomerium

    @Test(
        "behind Pomerium /api, /api/ and /metrics answer without an assertion; every other API route but starting a demo, even the open ones, needs one"
    )
    func pomeriumOpenRoutes() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.live, try Self.pomerium(signer)) { harness, client in
                for path in ["/api", "/api/"] {
                    let index = try await client.send(.get, path)
                    #expect(index.status == .ok, "\(path): \(index.text)")
                    #expect(try index.decoded(AboutBody.self).version.isEmpty == false, "\(path)")
                    // A broken assertion does not matter to a route that needs none (and is not audited there).
                    let withGarbage = try await client.send(.get, path, headers: Self.assertionHeaders("garbage"))
                    #expect(withGarbage.status == .ok)
                }
                let metrics = try await client.send(.get, "/metrics")
                #expect(metrics.status == .ok)
                #expect(metrics.text.contains(#"http_requests_total{method="GET""#), "\(metrics.text.prefix(300))")
                #expect(try await Self.reasons(harness, .pomeriumAssertionRejected).isEmpty)

                // Routes open to anyone with local accounts are gated too: nobody reaches NeoSC around Pomerium.
                let gated: [(HTTPRequest.Method, String, String?)] = [
                    (.post, "/api/auth/login", body(["email": "a@example.com", "password": Harness.password])),
                    (.post, "/api/auth/register", body(["email": "b@example.com", "password": Harness.password, "name": "B"])),
                    (.get, "/api/policies", nil),
                    (.get, "/api/demo/sessions", nil),
                ]
                for (method, path, json) in gated {
                    let refused = try await client.send(method, path, json: json)
                    #expect(refused.status == .unauthorized, "\(method) \(path) → \(refused.status.code)")
                    #expect(refused.detail?.contains("Pomerium") == true, "\(method) \(path): \(refused.text)")
                }
                #expect(try await harness.store.user(email: "b@example.com") == nil)
                // The one exception: starting a demo, Pomerium's public demo route (off here: 404,
                // not 401). ZitadelActionTests follows a visitor through it.
                let demo = try await client.send(.post, "/api/demo/sessions", json: body(["workspace_type": "browser"]))
                #expect(demo.status == .notFound, "\(demo.text)")
            }
        }
    }

    @Test("Pomerium's issuer spellings: HOST and https://HOST/ (jwt_issuer_format: uri) for a configured host; nothing else")
    func pomeriumIssuerSpellings() async throws {
        try await TestSigner.with { signer in
            let settings = try Self.pomerium(signer, extra: ["POMERIUM_ISSUER": "authenticate.test"])
            try await Harness.run(.router, settings) { harness, client in
                // POMERIUM_ISSUER given: the issuer is that host, in either spelling; the audience stays the route.
                let accepted: [(String, String)] = [
                    ("plain", "authenticate.test"), ("uri", "https://authenticate.test/"),
                ]
                for (name, issuer) in accepted {
                    let assertion = Self.assertion(signer, subject: "spelling-\(name)", extra: ["iss": issuer])
                    let me = try await client.send(.get, "/api/auth/me", headers: Self.assertionHeaders(assertion))
                    #expect(me.status == .ok, "\(issuer): \(me.text)")
                    #expect(try me.decoded(UserBody.self).email == "spelling-\(name)@example.com")
                }
                // The URI spelling of the audience too, with the URI issuer, as Pomerium sends them together.
                let both = Self.assertion(
                    signer, subject: "spelling-both", extra: ["iss": "https://authenticate.test/", "aud": "https://\(Self.route)/"])
                #expect(try await client.send(.get, "/api/auth/me", headers: Self.assertionHeaders(both)).status == .ok)

                let refused = [
                    "http://authenticate.test/", "https://authenticate.test.evil.example/", "https://evil.example/authenticate.test/",
                    Self.route,  // the audience is not an issuer once POMERIUM_ISSUER is set
                ]
                for issuer in refused {
                    let assertion = Self.assertion(signer, subject: "spelling-bad", extra: ["iss": issuer])
                    let answer = try await client.send(.get, "/api/auth/me", headers: Self.assertionHeaders(assertion))
                    #expect(answer.status == .unauthorized, "\(issuer) must be refused")
                }
                // Every refusal counted; the same refusal from one address audited once a minute.
                #expect(try await Self.reasons(harness, .pomeriumAssertionRejected) == ["wrong_issuer"])
                #expect(harness.metric(#"auth_failures_total{reason="wrong_issuer"}"#) == refused.count)
            }
        }
    }

    // MARK: - OpenID provider

    @Test(
        "identity provider down: OIDC sign-ins answer 503 (audited provider_unavailable), asking it again at most once per NEOSC_JWKS_MIN_REFRESH; local sign-ins still work"
    )
    func providerDown() async throws {
        // The provider answers 503 to everything, and counts what it is asked; NeoSC's clock is
        // moved by hand, so "once per interval" does not depend on how fast this machine is.
        let clock = ManualClock(Date())
        try await FailingProvider.with { provider in
            let settings = try Self.oidc(provider.issuer, extra: ["NEOSC_JWKS_MIN_REFRESH": "60s"])
            try await Harness.run(.router, clock: clock.wallClock, settings) { harness, client in
                let idToken = [#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#, #"{"sub":"x"}"#, "sig"]
                    .map { TestSigner.base64URL(Data($0.utf8)) }.joined(separator: ".")
                for attempt in 1...2 {
                    let sso = try await client.send(.post, "/api/auth/sso", json: body(["id_token": idToken]))
                    #expect(sso.status == .serviceUnavailable, "attempt \(attempt): \(sso.text)")
                    #expect(sso.detail?.isEmpty == false)
                }
                let exchange = try await client.send(
                    .post, "/api/auth/token-exchange",
                    json: body(["code": "a-code", "code_verifier": Self.verifier(), "redirect_uri": Self.portalRedirect]))
                #expect(exchange.status == .serviceUnavailable, "\(exchange.text)")
                // A scheme in capitals is a web URL too (schemes are case-insensitive): on to the provider.
                let capitals = try await client.send(
                    .post, "/api/auth/token-exchange",
                    json: body(["code": "a-code", "code_verifier": Self.verifier(), "redirect_uri": "HTTPS://portal.example/auth/callback"]))
                #expect(capitals.status == .serviceUnavailable, "\(capitals.text)")
                let start = try await client.send(.get, "/api/auth/oidc/start")
                #expect(start.status == .serviceUnavailable, "\(start.text)")
                #expect(start.detail?.isEmpty == false)
                #expect(provider.requests == 1, "five sign-ins within the interval asked the provider once")
                // One audit row per address, reason and minute; every refusal counted.
                #expect(try await Self.reasons(harness, .ssoLoginFailed) == ["provider_unavailable"])
                #expect(harness.metric(#"auth_failures_total{reason="provider_unavailable"}"#) == 4)

                // Past the interval, the next sign-in tries the provider again.
                clock.advance(61)
                #expect(try await client.send(.post, "/api/auth/sso", json: body(["id_token": idToken])).status == .serviceUnavailable)
                #expect(provider.requests == 2)

                let local = try await harness.account(.user, email: "local-\(UUID().uuidString.prefix(8).lowercased())@example.com")
                let login = try await client.send(
                    .post, "/api/auth/login", json: body(["email": local.user.email, "password": Harness.password]))
                #expect(login.status == .ok, "\(login.text)")
                let token = try login.decoded(SignedInBody.self).accessToken
                #expect(try await client.send(.get, "/api/auth/me", token: token).decoded(UserBody.self).email == local.user.email)
            }
        }
        // A provider nobody answers for at all (nothing listens on its port): a 503 too, never a 500.
        let unreachable = "http://127.0.0.1:\(try FreePort.pick())"
        try await Harness.run(.router, try Self.oidc(unreachable)) { harness, client in
            let idToken = [#"{"alg":"ES256","kid":"k1"}"#, #"{"sub":"x"}"#, "sig"]
                .map { TestSigner.base64URL(Data($0.utf8)) }.joined(separator: ".")
            let sso = try await client.send(.post, "/api/auth/sso", json: body(["id_token": idToken]))
            #expect(sso.status == .serviceUnavailable, "\(sso.text)")
            #expect(try await Self.reasons(harness, .ssoLoginFailed) == ["provider_unavailable"])
        }
    }

    @Test("ZITADEL_REDIRECT_URIS: a redirect_uri not in the list → 422 {detail}, audited, the provider never asked; a listed one signs in")
    func redirectAllowList() async throws {
        try await ScriptedProvider.with { provider in
            let settings = try Self.oidc(
                provider.issuer, extra: ["ZITADEL_REDIRECT_URIS": "\(Self.portalRedirect), https://portal.example.com/auth/callback"])
            try await Harness.run(.router, settings) { harness, client in
                func exchange(_ redirect: String, nonce: String = UUID().uuidString) async throws -> Reply {
                    try await client.send(
                        .post, "/api/auth/token-exchange",
                        json: body(["code": "a-code", "code_verifier": Self.verifier(), "redirect_uri": redirect, "nonce": nonce]))
                }
                let refused = [
                    "http://127.0.0.1:5173/auth/callback/", "http://127.0.0.1:5173/auth/callback?next=/admin",
                    "https://evil.example/auth/callback", "http://127.0.0.1:5174/auth/callback", "javascript:alert(1)", "",
                ]
                for redirect in refused {
                    let answer = try await exchange(redirect)
                    #expect(answer.status == .unprocessableContent, "'\(redirect)' → \(answer.status.code)")
                    #expect(answer.detail?.contains("redirect_uri") == true, "\(answer.text)")
                }
                #expect(provider.tokenRequests.isEmpty, "a refused redirect_uri never reaches the provider")
                #expect(try await Self.reasons(harness, .ssoLoginFailed) == ["redirect_uri_not_allowed"], "once a minute per address")
                #expect(harness.metric(#"auth_failures_total{reason="redirect_uri_not_allowed"}"#) == refused.count)

                let nonce = UUID().uuidString
                provider.answerNext(
                    .idToken(
                        provider.claims(
                            subject: "listed", audience: Self.clientID,
                            extra: [
                                "nonce": nonce, "email": "listed@example.com",
                                "urn:zitadel:iam:org:project:roles": ["user": ["org-1": "example.com"]],
                            ])))
                let accepted = try await exchange("https://portal.example.com/auth/callback", nonce: nonce)
                #expect(accepted.status == .ok, "\(accepted.text)")
                #expect(provider.tokenRequests.last?["redirect_uri"] == "https://portal.example.com/auth/callback")
            }
        }
    }

    @Test("nonce_mismatch (code exchange and browser flow), not_yet_valid (beyond the 60 s leeway), missing_subject: 401, audited with the reason")
    func claimRejections() async throws {
        try await ScriptedProvider.with { provider in
            try await Harness.run(.router, try Self.oidc(provider.issuer)) { harness, client in
                let roles: [String: any Sendable] = [
                    "email": "nora@example.com", "email_verified": true,
                    "urn:zitadel:iam:org:project:roles": ["user": ["org-1": "example.com"]],
                ]
                func claims(subject: String = "nora", _ extra: [String: any Sendable] = [:]) -> [String: any Sendable] {
                    provider.claims(
                        subject: subject, audience: Self.clientID,
                        extra: roles.merging(["nonce": UUID().uuidString]) { $1 }.merging(extra) { $1 })
                }
                var expected: [String] = []

                // The code exchange: the ID token's nonce is not the one this sign-in sent.
                provider.answerNext(.idToken(claims(["nonce": "the-providers-nonce"])))
                let exchanged = try await client.send(
                    .post, "/api/auth/token-exchange",
                    json: body([
                        "code": "a-code", "code_verifier": Self.verifier(), "redirect_uri": Self.portalRedirect,
                        "nonce": "the-clients-nonce",
                    ]))
                #expect(exchanged.status == .unauthorized, "\(exchanged.text)")
                #expect(exchanged.detail == TokenRejection.nonceMismatch.detail)
                expected.append("nonce_mismatch")

                // The browser flow: NeoSC's own nonce, kept with the pending sign-in, must come back.
                let start = try await client.send(.get, "/api/auth/oidc/start")
                let location = try #require(start.headers[.location])
                #expect(location.hasPrefix(provider.issuer + "/authorize?"))
                let state = try #require(URLComponents(string: location)?.query("state"))
                provider.answerNext(.idToken(claims(["nonce": "not-the-one-neosc-sent"])))
                let callback = try await client.send(
                    .get, "/api/auth/oidc/callback?code=a-code&state=\(state)", headers: [.cookie: "neosc_oidc_state=\(state)"])
                #expect(callback.status == .unauthorized, "\(callback.text)")
                #expect(callback.detail == TokenRejection.nonceMismatch.detail)
                expected.append("nonce_mismatch")

                // ID tokens from the future, beyond the leeway, and without a subject.
                func sso(_ claims: [String: any Sendable]) async throws -> Reply {
                    try await client.send(.post, "/api/auth/sso", json: body(["id_token": provider.signer.token(claims)]))
                }
                let now = Int(Date().timeIntervalSince1970)
                let refused: [(String, [String: any Sendable])] = [
                    ("not_yet_valid", claims(["nbf": now + 180])),
                    ("not_yet_valid", claims(["iat": now + 180, "exp": now + 600])),
                    ("missing_subject", claims(["sub": ""])),
                    ("missing_subject", claims().filter { $0.key != "sub" }),
                ]
                for (reason, claims) in refused {
                    let answer = try await sso(claims)
                    #expect(answer.status == .unauthorized, "\(reason): \(answer.text)")
                    #expect(answer.detail?.isEmpty == false)
                    expected.append(reason)
                }
                let audited = try await harness.store.events(AuditQuery(action: .ssoLoginFailed, limit: 50))
                #expect(Set(audited.compactMap { $0.details["reason"] }) == Set(expected), "each reason audited")
                #expect(audited.count == Set(expected).count, "once a minute per address and reason")
                #expect(audited.allSatisfy { !$0.success })
                #expect(try await harness.store.user(email: "nora@example.com") == nil, "no refused token provisioned an account")

                // Within the leeway a clock a little ahead is tolerated.
                let skewed = try await sso(claims(["nbf": now + 20, "iat": now + 20]))
                #expect(skewed.status == .ok, "\(skewed.text)")
            }
        }
    }

    /// Signs `subject` in through `provider` with an ID token granting `role`.
    static func signIn(
        _ client: some TestClientProtocol, through provider: ScriptedProvider, subject: String, name: String, as role: String
    ) async throws -> Reply {
        let claims = provider.claims(
            subject: subject, audience: clientID,
            extra: [
                "nonce": UUID().uuidString, "email": "\(subject)@example.com", "name": name,
                "urn:zitadel:iam:org:project:roles": [role: ["org-1": "example.com"]],
            ])
        return try await client.send(.post, "/api/auth/sso", json: body(["id_token": provider.signer.token(claims)]))
    }

    @Test("a role changed at the provider applies at the next sign-in, is audited, and no cached token keeps the old role")
    func roleChangeAtSignIn() async throws {
        try await ScriptedProvider.with { provider in
            try await Harness.run(.router, try Self.oidc(provider.issuer)) { harness, client in
                func signIn(as role: String) async throws -> Reply {
                    try await Self.signIn(client, through: provider, subject: "rita", name: "Rita", as: role)
                }
                // Another administrator, so demoting Rita leaves one (see the next test for the last).
                try await harness.account(.admin)
                let first = try await signIn(as: "admin")
                #expect(try first.decoded(SignedInBody.self).user.role == "admin", "\(first.text)")
                let adminToken = try first.decoded(SignedInBody.self).accessToken
                // Used (and so cached) while the account is an administrator.
                #expect(try await client.send(.get, "/api/users", token: adminToken).status == .ok)
                #expect(try await client.send(.get, "/api/auth/me", token: adminToken).decoded(UserBody.self).role == "admin")
                let launched = try await client.send(.post, "/api/workspaces/ws-windows-rdp/launch", token: adminToken)
                #expect(launched.status == .created, "\(launched.text)")
                let sessionID = try launched.decoded(LaunchBody.self).sessionID

                let second = try await signIn(as: "user")
                #expect(second.status == .ok)
                #expect(try second.decoded(SignedInBody.self).user.role == "user")
                let account = try #require(try await harness.store.user(email: "rita@example.com"))
                #expect(account.role == .user)

                // The earlier token acts with the new role at once, not the cached one.
                #expect(try await client.send(.get, "/api/auth/me", token: adminToken).decoded(UserBody.self).role == "user")
                #expect(try await client.send(.get, "/api/users", token: adminToken).status == .forbidden)
                let userToken = try second.decoded(SignedInBody.self).accessToken
                #expect(try await client.send(.get, "/api/users", token: userToken).status == .forbidden)

                let changes = try await harness.store.events(AuditQuery(action: .updateUser))
                #expect(changes.count == 1)
                let change = try #require(changes.first)
                #expect(change.resourceID == account.id)
                #expect(change.details["previous_role"] == "admin" && change.details["role"] == "user")
                #expect(change.details["by"] == provider.issuer)
                // A role taken away at the provider ends the sessions it allowed, as an administrator's change does.
                #expect(try await harness.store.session(id: sessionID)?.endReason == "access_revoked")
                #expect(change.details["sessions_terminated"] == "1")

                // Back up again: the provider is the source of truth both ways.
                let third = try await signIn(as: "admin")
                #expect(try third.decoded(SignedInBody.self).user.role == "admin")
                #expect(try await client.send(.get, "/api/users", token: userToken).status == .ok)
                #expect(try await harness.store.events(AuditQuery(action: .updateUser)).count == 2)
            }
        }
    }

    @Test("a provider granting a linked account no NeoSC role any more withdraws its access: sessions ended, tokens revoked, audited once")
    func providerWithdrawsEveryRole() async throws {
        try await ScriptedProvider.with { provider in
            try await Harness.run(.router, try Self.oidc(provider.issuer)) { harness, client in
                func signIn(as role: String) async throws -> Reply {
                    try await Self.signIn(client, through: provider, subject: "wes", name: "Wes", as: role)
                }
                let first = try await signIn(as: "neosc")
                let token = try first.decoded(SignedInBody.self).accessToken
                let second = try await signIn(as: "neosc")
                let otherToken = try second.decoded(SignedInBody.self).accessToken
                let launched = try await client.send(.post, "/api/workspaces/ws-secure-browser/launch", token: token)
                #expect(launched.status == .created, "\(launched.text)")
                let sessionID = try launched.decoded(LaunchBody.self).sessionID
                #expect(try await client.send(.get, "/api/auth/me", token: otherToken).status == .ok, "used, so cached")

                // A role the provider names that is none of NeoSC's grants nothing.
                let refused = try await signIn(as: "viewer")
                #expect(refused.status == .forbidden, "\(refused.text)")
                #expect(try refused.decoded(ErrorBody.self).detail.contains("granted no NeoSC role"))
                #expect(try await harness.store.session(id: sessionID)?.endReason == "access_revoked")
                for held in [token, otherToken] {
                    #expect(try await client.send(.get, "/api/auth/me", token: held).status == .unauthorized)
                }
                let withdrawn = try await harness.store.events(AuditQuery(action: .ssoAccessWithdrawn))
                #expect(withdrawn.count == 1)
                let entry = try #require(withdrawn.first)
                #expect(entry.details["sessions_terminated"] == "1" && entry.details["tokens_revoked"] == "2", "\(entry.details)")
                #expect(entry.details["by"] == provider.issuer)
                // Nothing left to withdraw: refused again, and no further entry.
                #expect(try await signIn(as: "viewer").status == .forbidden)
                #expect(try await harness.store.events(AuditQuery(action: .ssoAccessWithdrawn)).count == 1)
                // The account is kept, with its role, for the provider to grant again.
                let again = try await signIn(as: "neosc")
                #expect(again.status == .ok, "\(again.text)")
                #expect(try again.decoded(SignedInBody.self).user.role == "neosc")
            }
        }
    }

    @Test("a sign-in whose provider role would demote the last administrator is refused (409, audited); the account stays admin")
    func providerCannotDemoteTheLastAdministrator() async throws {
        try await ScriptedProvider.with { provider in
            try await Harness.run(.router, try Self.oidc(provider.issuer)) { harness, client in
                func signIn(as role: String) async throws -> Reply {
                    try await Self.signIn(client, through: provider, subject: "sam", name: "Sam", as: role)
                }
                let first = try await signIn(as: "admin")
                #expect(first.status == .ok, "\(first.text)")
                let token = try first.decoded(SignedInBody.self).accessToken

                let demoting = try await signIn(as: "user")
                #expect(demoting.status == .conflict, "\(demoting.text)")
                #expect(try demoting.decoded(ErrorBody.self).detail.contains("last active administrator"))
                #expect(try await harness.store.user(email: "sam@example.com")?.role == .admin)
                #expect(try await harness.store.activeAdminCount() == 1)
                #expect(try await client.send(.get, "/api/auth/me", token: token).decoded(UserBody.self).role == "admin")
                let refusals = try await harness.store.events(AuditQuery(action: .ssoLoginFailed))
                #expect(refusals.count == 1 && refusals.first?.details["detail"]?.contains("last active administrator") == true)
                #expect(try await harness.store.events(AuditQuery(action: .updateUser)).isEmpty, "nothing changed")

                // Once another administrator exists, the provider's word applies.
                try await harness.account(.admin)
                let demoted = try await signIn(as: "user")
                #expect(try demoted.decoded(SignedInBody.self).user.role == "user")
            }
        }
    }

    @Test("an ID token's nonce stays redeemed across a restart: the same token cannot sign in again after NeoSC restarts")
    func replayAfterRestartIsRefused() async throws {
        try await ScriptedProvider.with { provider in
            let directory = Harness.makeDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let configure = try Self.oidc(provider.issuer)
            let idToken = provider.signer.token(
                provider.claims(
                    subject: "uma", audience: Self.clientID,
                    extra: [
                        "nonce": UUID().uuidString, "email": "uma@example.com", "name": "Uma",
                        "urn:zitadel:iam:org:project:roles": ["user": ["org-1": "example.com"]],
                    ]))
            let first = try await Harness.open(directory: directory, configure)
            try await first.serve { client in
                let signedIn = try await client.send(.post, "/api/auth/sso", json: body(["id_token": idToken]))
                #expect(signedIn.status == .ok, "\(signedIn.text)")
            }
            try await first.close(removing: false)

            let second = try await Harness.open(directory: directory, configure)
            try await second.serve { client in
                let replayed = try await client.send(.post, "/api/auth/sso", json: body(["id_token": idToken]))
                #expect(replayed.status == .unauthorized, "\(replayed.text)")
            }
            #expect(try await Self.reasons(second, .ssoLoginFailed) == ["replayed_nonce"])
            try await second.close(removing: false)
        }
    }
}

/// An OpenID provider that is down: it answers 503 to every request, and counts them.
final class FailingProvider: Sendable {
    private let state = Mutex((port: 0, requests: 0))

    var issuer: String { "http://127.0.0.1:\(state.withLock { $0.port })" }
    var requests: Int { state.withLock { $0.requests } }

    static func with(_ body: @Sendable (FailingProvider) async throws -> Void) async throws {
        let provider = FailingProvider()
        let router = Router()
        let answer: @Sendable (Request, BasicRequestContext) async throws -> Response = { _, _ in
            provider.state.withLock { $0.requests += 1 }
            return Response(status: .serviceUnavailable)
        }
        router.on("**", method: .get, use: answer)
        router.on("**", method: .post, use: answer)
        try await LoopbackHTTPServer.serving(router, label: "failing-provider") { port in
            provider.state.withLock { $0.port = port }
            try await body(provider)
        }
    }
}
