import Crypto
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Integrations
import NIOPosix
import Net
import Services
import Testing

@testable import App

/// Sign-in through a real OpenID provider (`oidc-provider-mock` standing in for Zitadel) and
/// through ID tokens from a signer the tests control, with every forgery refused.
@Suite("OIDC sign-in")
struct OIDCSignInTests {
    static let clientID = "neosc-portal"
    static let projectID = "2740023"
    static let spaRedirect = "http://127.0.0.1:5173/auth/callback"
    static let portalURL = "http://127.0.0.1:5173/"

    /// Provider users: Zitadel role claims in both spellings, and one with no NeoSC role.
    static let users: [[String: any Sendable]] = [
        [
            "sub": "zitadel-alice", "email": "alice@example.com", "email_verified": true, "name": "Alice Admin",
            "amr": ["pwd", "mfa"], "urn:zitadel:iam:org:project:roles": ["admin": ["org-1": "example.com"]],
        ],
        [
            "sub": "zitadel-bob", "email": "bob@example.com", "email_verified": true, "name": "Bob",
            "urn:zitadel:iam:org:project:\(projectID):roles": ["neosc": ["org-1": "example.com"]],
        ],
        [
            "sub": "zitadel-carol", "email": "carol@example.com", "email_verified": true,
            "urn:zitadel:iam:org:project:roles": ["auditor": ["org-1": "example.com"]],
        ],
        [
            "sub": "zitadel-dave", "email": "dave@example.com", "email_verified": false,
            "urn:zitadel:iam:org:project:roles": ["user": ["org-1": "example.com"]],
        ],
        // One address twice: first by someone the provider let sign up without confirming it,
        // then by its owner, whose address the provider verified.
        [
            "sub": "zitadel-erin-unverified", "email": "erin@example.com", "email_verified": false,
            "urn:zitadel:iam:org:project:roles": ["user": ["org-1": "example.com"]],
        ],
        [
            "sub": "zitadel-erin", "email": "erin@example.com", "email_verified": true,
            "urn:zitadel:iam:org:project:roles": ["neosc": ["org-1": "example.com"]],
        ],
        // For the Pomerium v0.31 peer (PomeriumChainTests): Zitadel's nested role map, with and
        // without the flat `groups` claim NeoSC's Zitadel Action adds.
        [
            "sub": "zitadel-pia", "email": "pia@example.com", "email_verified": true, "name": "Pia Admin",
            "amr": ["pwd", "mfa"], "urn:zitadel:iam:org:project:roles": ["admin": ["org-1": "example.com"]],
            "groups": ["admin"],
        ],
        [
            "sub": "zitadel-nils", "email": "nils@example.com", "email_verified": true, "name": "Nils",
            "urn:zitadel:iam:org:project:roles": ["neosc": ["org-1": "example.com"]],
        ],
        // A NetBird peer's claim, as a Zitadel Action would add it (network_required).
        [
            "sub": "zitadel-nora", "email": "nora@example.com", "email_verified": true, "name": "Nora",
            "urn:zitadel:iam:org:project:roles": ["neosc": ["org-1": "example.com"]], "netbird_peer_id": "peer-nora",
        ],
        [
            "sub": "zitadel-root", "email": "root@example.com", "email_verified": true, "name": "Root",
            "urn:zitadel:iam:org:project:roles": ["admin": ["org-1": "example.com"]], "groups": ["admin"],
        ],
    ]

    static func settings(issuer: String) -> (inout Configuration) -> Void {
        { configuration in
            configuration.oidc = OIDCSettings(
                issuer: issuer, clientID: clientID, clientSecret: "mock-accepts-any-secret", projectID: projectID,
                callbackURL: "http://127.0.0.1:8001/api/auth/oidc/callback", portalURL: portalURL)
            configuration.keyRefreshInterval = 1
        }
    }

    /// What a single-page app does: PKCE pair, the provider's approval, then NeoSC's token exchange.
    static func exchange(
        _ mock: OIDCMock, as subject: String, client: some TestClientProtocol, nonce: String = UUID().uuidString,
        sentNonce: String? = nil
    ) async throws -> Reply {
        let verifier = TestSigner.base64URL((0..<32).map { _ in UInt8.random(in: 0...255) })
        let challenge = TestSigner.base64URL(SHA256.hash(data: Data(verifier.utf8)))
        let redirect = try await mock.approve(
            mock.authorizationURL(
                clientID: clientID, redirectURI: spaRedirect, state: "spa-state", nonce: nonce, codeChallenge: challenge),
            as: subject)
        let code = try #require(redirect.query("code"))
        return try await client.send(
            .post, "/api/auth/token-exchange",
            json: body(["code": code, "code_verifier": verifier, "redirect_uri": spaRedirect, "nonce": sentNonce ?? nonce]))
    }

    @Test("code + PKCE → token exchange → NeoSC token → /me shows the mapped role; accounts provisioned and audited")
    func tokenExchange() async throws {
        let mock = try await OIDCMock.shared()
        try await Harness.run(.router, Self.settings(issuer: mock.issuer)) { harness, client in
            let signedIn = try await Self.exchange(mock, as: "zitadel-alice", client: client)
            #expect(signedIn.status == .ok, "\(signedIn.text)")
            #expect(try signedIn.decoded(SignedInBody.self).tokenType == "bearer")
            let token = try signedIn.decoded(SignedInBody.self).accessToken
            #expect(try signedIn.decoded(SignedInBody.self).expiresAt > Date())

            let me = try await client.send(.get, "/api/auth/me", token: token)
            #expect(me.status == .ok)
            #expect(try me.decoded(UserBody.self).role == "admin")
            #expect(try me.decoded(UserBody.self).email == "alice@example.com")
            #expect(try me.decoded(UserBody.self).name == "Alice Admin")

            // The project-specific role claim maps too; the account is provisioned once.
            let bob = try await Self.exchange(mock, as: "zitadel-bob", client: client)
            #expect(try bob.decoded(SignedInBody.self).user.role == "neosc")
            let again = try await Self.exchange(mock, as: "zitadel-bob", client: client)
            #expect(again.status == .ok)
            let account = try #require(try await harness.store.user(email: "bob@example.com"))
            #expect(account.ssoSubject == "zitadel-bob")
            #expect(account.ssoProvider == mock.issuer)
            #expect(account.passwordHash == nil)

            let provisioned = try await harness.store.events(AuditQuery(action: .ssoUserProvisioned))
            #expect(Set(provisioned.compactMap(\.userEmail)) == ["alice@example.com", "bob@example.com"])
            let logins = try await harness.store.events(AuditQuery(action: .ssoLogin))
            #expect(logins.count == 3)
            #expect(logins.contains { $0.userEmail == "alice@example.com" && $0.details["mfa"] == "true" })
        }
    }

    @Test("no recognised role → 403; an unverified e-mail never takes over a local account; a used code is refused")
    func refusals() async throws {
        let mock = try await OIDCMock.shared()
        try await Harness.run(.router, Self.settings(issuer: mock.issuer)) { harness, client in
            let carol = try await Self.exchange(mock, as: "zitadel-carol", client: client)
            #expect(carol.status == .forbidden)
            #expect(try await harness.store.user(email: "carol@example.com") == nil)

            let local = try await harness.account(.user, email: "dave@example.com")
            let dave = try await Self.exchange(mock, as: "zitadel-dave", client: client)
            #expect(dave.status == .forbidden)
            #expect(try await harness.store.user(id: local.user.id)?.ssoSubject == nil)

            // Two refusals for one reason from one address, of two identities the provider vouched
            // for: one entry each (a minute's first per identity), each naming who tried by the
            // address the provider gave, never an account the identity is not linked to: dave's
            // unverified address must not write in the local account's name (the review).
            let failures = try await harness.store.events(AuditQuery(action: .ssoLoginFailed))
            #expect(failures.count == 2, "\(failures.map(\.details))")
            #expect(failures.allSatisfy { $0.details["reason"] == "not_allowed" && !$0.success && $0.userID == nil })
            #expect(failures.contains { $0.userEmail == "dave@example.com" && $0.details["subject"] == "zitadel-dave" })
            #expect(failures.contains { $0.userEmail == "carol@example.com" })
            #expect(harness.metric(#"auth_failures_total{reason="not_allowed"}"#) == 2)

            // A code is redeemed once: the same code and verifier again are refused.
            let verifier = TestSigner.base64URL((0..<32).map { _ in UInt8.random(in: 0...255) })
            let nonce = UUID().uuidString
            let approved = try await mock.approve(
                mock.authorizationURL(
                    clientID: Self.clientID, redirectURI: Self.spaRedirect, state: "s", nonce: nonce,
                    codeChallenge: TestSigner.base64URL(SHA256.hash(data: Data(verifier.utf8)))),
                as: "zitadel-bob")
            let redemption = body([
                "code": try #require(approved.query("code")), "code_verifier": verifier, "redirect_uri": Self.spaRedirect,
                "nonce": nonce,
            ])
            #expect(try await client.send(.post, "/api/auth/token-exchange", json: redemption).status == .ok)
            let again = try await client.send(.post, "/api/auth/token-exchange", json: redemption)
            #expect(again.status == .unauthorized, "\(again.text)")
            #expect(again.detail?.isEmpty == false)
            #expect(again["access_token"] == nil)
            // The replay is audited as the provider's refusal of the code, and signs nobody in.
            let afterReplay = try await harness.store.events(AuditQuery(action: .ssoLoginFailed))
            #expect(afterReplay.count == 3, "the refusals above and the replay")
            let replayed = afterReplay.filter { $0.details["reason"] == "code_rejected" }
            #expect(replayed.count == 1)
            #expect(replayed.allSatisfy { $0.details["method"] == "token_exchange" && !$0.success })
            let bobLogins = try await harness.store.events(AuditQuery(action: .ssoLogin)).filter { $0.userEmail == "bob@example.com" }
            #expect(bobLogins.count == 1, "the code signed in once")

            // The ID token must carry the nonce this sign-in began with.
            let mismatched = try await Self.exchange(mock, as: "zitadel-bob", client: client, nonce: "one", sentNonce: "another")
            #expect(mismatched.status == .unauthorized)
            let reasons = try await harness.store.events(AuditQuery(action: .ssoLoginFailed)).compactMap { $0.details["reason"] }
            #expect(reasons.contains("nonce_mismatch"))

            let forged = try await client.send(
                .post, "/api/auth/token-exchange",
                json: body([
                    "code": "not-a-code", "code_verifier": String(repeating: "v", count: 43),
                    "redirect_uri": Self.spaRedirect,
                ]))
            #expect(forged.status == .unauthorized)
            let shortVerifier = try await client.send(
                .post, "/api/auth/token-exchange",
                json: body(["code": "c", "code_verifier": "short", "redirect_uri": Self.spaRedirect]))
            #expect(shortVerifier.status == .unprocessableContent)
        }
    }

    @Test("a verified e-mail links the existing local account, which then takes the provider's role")
    func linking() async throws {
        let mock = try await OIDCMock.shared()
        try await Harness.run(.router, Self.settings(issuer: mock.issuer)) { harness, client in
            let local = try await harness.account(.user, email: "alice@example.com")
            let signedIn = try await Self.exchange(mock, as: "zitadel-alice", client: client)
            #expect(signedIn.status == .ok)
            let linked = try #require(try await harness.store.user(id: local.user.id))
            #expect(linked.ssoSubject == "zitadel-alice")
            #expect(linked.role == .admin)
            #expect(linked.passwordHash != nil, "linking keeps the local password")
            #expect(try await harness.store.events(AuditQuery(action: .ssoAccountLinked)).count == 1)
        }
    }

    /// Pre-registration: someone registers the owner's address first, with a password and a
    /// second factor of their own, and waits for the owner's first sign-in through the provider
    /// (a probe: their token and password then carried the owner's role, `admin`).
    @Test("a self-registered account is reclaimed by the provider that proves its address: the registrant's password, second factor and tokens go")
    func registrantsLoseAReclaimedAccount() async throws {
        let mock = try await OIDCMock.shared()
        try await Harness.run(.router, Self.settings(issuer: mock.issuer)) { harness, client in
            let registered = try await client.send(
                .post, "/api/auth/register",
                json: body(["email": "alice@example.com", "password": "a registrant's own phrase", "name": "Not Alice"]))
            #expect(registered.status == .created, "\(registered.text)")
            let registrants = try registered.decoded(SignedInBody.self)
            let before = try #require(try await harness.store.user(email: "alice@example.com"))
            #expect(before.selfRegistered && before.passwordHash != nil)
            #expect(try await harness.store.setNetbirdPeer(userID: before.id, peerID: "peer-registrant", at: Date()))
            let now = Date()
            #expect(
                try await harness.store.beginEnrollment(
                    TOTPEnrollment(userID: before.id, secret: "JBSWY3DPEHPK3PXP", recoveryCodeDigests: [], createdAt: now)))
            #expect(try await harness.store.confirmEnrollment(userID: before.id, secret: "JBSWY3DPEHPK3PXP", at: now))

            let owner = try await Self.exchange(mock, as: "zitadel-alice", client: client)
            #expect(owner.status == .ok, "\(owner.text)")
            #expect(try owner.decoded(SignedInBody.self).user.role == "admin")

            #expect(try await client.send(.get, "/api/auth/me", token: registrants.accessToken).status == .unauthorized)
            #expect(try await client.send(.get, "/api/users", token: registrants.accessToken).status == .unauthorized)
            let password = try await client.send(
                .post, "/api/auth/login", json: body(["email": "alice@example.com", "password": "a registrant's own phrase"]))
            #expect(password.status == .unauthorized, "the registrant's password is gone: \(password.text)")
            let after = try #require(try await harness.store.user(id: before.id))
            #expect(after.passwordHash == nil && after.ssoSubject == "zitadel-alice" && after.role == .admin)
            #expect(try await harness.store.totpEnrollment(userID: before.id) == nil)
            #expect(after.netbirdPeerID == nil, "the registrant's NetBird peer proves nothing for the owner")
            #expect(after.mfaEnabled, "as the provider's sign-in said (amr), not the registrant's enrolment")
            let linked = try #require(try await harness.store.events(AuditQuery(action: .ssoAccountLinked)).first)
            #expect(linked.details["password_removed"] == "true" && linked.details["second_factor_removed"] == "true")
            #expect(linked.details["tokens_revoked"] == "1" && linked.details["self_registered"] == "true")

            // The owner's own token works; an account an administrator made keeps its password (`linking`).
            let ownersToken = try owner.decoded(SignedInBody.self).accessToken
            #expect(try await client.send(.get, "/api/users", token: ownersToken).status == .ok)
        }
    }

    /// A probe: with a provider that lets people sign up without confirming their address, the
    /// first to sign in with an address held it, and its owner's verified sign-in was refused
    /// (409) for good.
    @Test("an account made for an address the provider had not verified goes to the identity whose provider proves the address")
    func anUnverifiedAddressGoesToItsProvenOwner() async throws {
        let mock = try await OIDCMock.shared()
        try await Harness.run(.router, Self.settings(issuer: mock.issuer)) { harness, client in
            let squatter = try await Self.exchange(mock, as: "zitadel-erin-unverified", client: client)
            #expect(squatter.status == .ok, "\(squatter.text)")
            let squattersToken = try squatter.decoded(SignedInBody.self).accessToken
            let made = try #require(try await harness.store.user(email: "erin@example.com"))
            #expect(made.addressUnverified && !made.selfRegistered && made.ssoSubject == "zitadel-erin-unverified")
            let provisioned = try await harness.store.events(AuditQuery(action: .ssoUserProvisioned)).first
            #expect(provisioned?.details["address_unverified"] == "true")
            // What the first holder's sign-ins wrote on it goes with the reclaim (the probe of the
            // mends: a name of its choosing stayed, and in a race its role).
            var renamed = made
            renamed.name = "IT Helpdesk: call +1-555-0100"
            try await harness.store.updateKeepingAnAdministrator(renamed, from: made)

            let owner = try await Self.exchange(mock, as: "zitadel-erin", client: client)
            #expect(owner.status == .ok, "\(owner.text)")
            #expect(try owner.decoded(SignedInBody.self).user.role == "neosc")
            // A sign-in of the unverified identity under way at the reclaim, its account read
            // before it (the probe of the day's fixes: it got a token for the owner's account).
            let underWay = ExternalIdentity(
                provider: try #require(made.ssoProvider), subject: "zitadel-erin-unverified", email: "erin@example.com",
                emailVerified: false, name: nil, roles: [.user], mfaVerified: false, expiresAt: Date() + 300, emailUnverified: true)
            await #expect(throws: DomainError.conflict("This e-mail address belongs to an account linked to another sign-in")) {
                try await harness.portal.externalAccounts.signIn(underWay, as: made, method: "id_token", from: "127.0.0.1")
            }
            #expect(try await client.send(.get, "/api/auth/me", token: squattersToken).status == .unauthorized)
            let after = try #require(try await harness.store.user(id: made.id))
            #expect(after.ssoSubject == "zitadel-erin" && !after.addressUnverified, "proved: no later identity takes it")
            #expect(after.name == "erin" && after.role == .neosc, "the address's own name, the provider's role")
            let linked = try #require(try await harness.store.events(AuditQuery(action: .ssoAccountLinked)).first)
            #expect(linked.details["previous_subject"] == "zitadel-erin-unverified" && linked.details["tokens_revoked"] == "1")

            let again = try await Self.exchange(mock, as: "zitadel-erin-unverified", client: client)
            #expect(again.status == .conflict, "\(again.text)")
            let ownerAgain = try await Self.exchange(mock, as: "zitadel-erin", client: client)
            #expect(ownerAgain.status == .ok, "\(ownerAgain.text)")
        }
    }

    @Test("network_required: the NetBird claim of a Zitadel sign-in holds for the NeoSC token it gave, and one without it is refused")
    func netbirdClaimOfASignIn() async throws {
        let mock = try await OIDCMock.shared()
        try await Harness.run(.router, Self.settings(issuer: mock.issuer)) { harness, client in
            let admin = try await harness.account(.admin).token
            let enabled = try await client.send(
                .patch, "/api/policies/pol-network-zero-trust", token: admin, json: #"{"enabled":true}"#)
            #expect(enabled.status == .ok, "\(enabled.text)")
            let nora = try await Self.exchange(mock, as: "zitadel-nora", client: client).decoded(SignedInBody.self).accessToken
            let nils = try await Self.exchange(mock, as: "zitadel-nils", client: client).decoded(SignedInBody.self).accessToken
            // ws-sap-gui requires NetBird in the default catalogue.
            let launched = try await client.send(.post, "/api/workspaces/ws-sap-gui/launch", token: nora)
            #expect(launched.status == .created, "\(launched.text)")
            let refused = try await client.send(.post, "/api/workspaces/ws-sap-gui/launch", token: nils)
            #expect(refused.status == .forbidden && refused["remedy"] as? String == "connect_netbird", "\(refused.text)")
        }
    }

    @Test("browser flow without an external portal: it ends on NeoSC's own pages, signed in with the session cookie")
    func browserFlowToOwnPortal() async throws {
        let mock = try await OIDCMock.shared()
        let settings: (inout Configuration) -> Void = {
            Self.settings(issuer: mock.issuer)(&$0)
            $0.oidc?.portalURL = nil
        }
        try await Harness.run(.router, settings) { _, client in
            let signInPage = try await client.send(.get, "/sign-in", headers: [.accept: "text/html"])
            #expect(signInPage.text.contains(#"href="/api/auth/oidc/start">Sign in with Zitadel"#))
            let start = try await client.send(.get, "/api/auth/oidc/start")
            let location = try #require(start.headers[.location])
            let state = try #require(URLComponents(string: location)?.query("state"))
            let redirect = try await mock.approve(location, as: "zitadel-bob")
            let code = try #require(redirect.query("code"))
            let landed = try await client.send(
                .get, "/api/auth/oidc/callback?code=\(code)&state=\(state)", headers: [.cookie: "neosc_oidc_state=\(state)"])
            #expect(landed.status == .ok && landed.text.contains(#"content="0;url=/""#), "\(landed.text)")
            let session = try #require(landed.headers[values: .setCookie].first { $0.hasPrefix("neosc_session=neosc_") })
            #expect(session.contains("HttpOnly") && session.contains("SameSite=Strict"))
            let token = String(session.dropFirst("neosc_session=".count).prefix { $0 != ";" })
            let dashboard = try await client.send(.get, "/", headers: [.accept: "text/html", .cookie: "neosc_session=\(token)"])
            #expect(dashboard.status == .ok && dashboard.text.contains("Dashboard"), "signed in on the portal")
        }
    }

    /// A probe: the state cookie was the same plain cookie over https, which a sibling subdomain
    /// can set: its own sign-in's state, then the victim sent to its callback URL, signed the
    /// victim's browser in to the sibling's account.
    @Test("over https the sign-in's state travels in a __Host- cookie, and a plain one of the same name is not read")
    func theStateCookieIsTheHostsOwnOverHTTPS() async throws {
        let mock = try await OIDCMock.shared()
        let settings: (inout Configuration) -> Void = {
            Self.settings(issuer: mock.issuer)(&$0)
            $0.oidc?.callbackURL = "https://neosc.example.com/api/auth/oidc/callback"
        }
        try await Harness.run(.router, settings) { _, client in
            let start = try await client.send(.get, "/api/auth/oidc/start")
            let location = try #require(start.headers[.location])
            let state = try #require(URLComponents(string: location)?.query("state"))
            let cookie = try #require(start.headers[.setCookie])
            #expect(cookie.hasPrefix("__Host-neosc_oidc_state=\(state)"), "\(cookie)")
            func attributes(_ cookie: String) -> Set<String> {
                Set(cookie.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) })
            }
            #expect(attributes(cookie).isSuperset(of: ["Secure", "Path=/"]) && !cookie.contains("Domain"), "\(cookie)")
            let code = try #require(try await mock.approve(location, as: "zitadel-bob").query("code"))
            let callback = "/api/auth/oidc/callback?code=\(code)&state=\(state)"
            let planted = try await client.send(.get, callback, headers: [.cookie: "neosc_oidc_state=\(state)"])
            #expect(planted.status == .unauthorized)
            let landed = try await client.send(.get, callback, headers: [.cookie: "__Host-neosc_oidc_state=\(state)"])
            #expect(landed.status == .seeOther, "\(landed.text)")
            let cleared = landed.headers[values: .setCookie].first { $0.hasPrefix("__Host-neosc_oidc_state=;") }
            #expect(cleared.map(attributes)?.contains("Path=/") == true, "\(landed.headers[values: .setCookie])")
        }
    }

    /// The session cookie does not come with the callback (a navigation from the provider's site,
    /// and the cookie is SameSite=Strict): the sign-in's start, a navigation from NeoSC's own
    /// sign-in page, tells whom the browser was signed in as.
    @Test("a browser sign-in through the provider in a browser already signed in revokes the session it replaces")
    func browserFlowReplacesTheSession() async throws {
        let mock = try await OIDCMock.shared()
        let settings: (inout Configuration) -> Void = {
            Self.settings(issuer: mock.issuer)(&$0)
            $0.oidc?.portalURL = nil
        }
        try await Harness.run(.router, settings) { harness, client in
            let (_, before) = try await harness.account(.user, email: "ulla@example.com")
            let start = try await client.send(.get, "/api/auth/oidc/start", headers: [.cookie: "neosc_session=\(before)"])
            let location = try #require(start.headers[.location])
            let state = try #require(URLComponents(string: location)?.query("state"))
            let code = try #require(try await mock.approve(location, as: "zitadel-bob").query("code"))
            #expect(try await client.send(.get, "/api/auth/me", token: before).status == .ok, "not before the sign-in completes")
            let landed = try await client.send(
                .get, "/api/auth/oidc/callback?code=\(code)&state=\(state)", headers: [.cookie: "neosc_oidc_state=\(state)"])
            #expect(landed.status == .ok, "\(landed.text)")
            #expect(try await client.send(.get, "/api/auth/me", token: before).status == .unauthorized)
            let replaced = try await harness.store.events(AuditQuery(action: .logout)).first
            #expect(replaced?.userEmail == "ulla@example.com" && replaced?.details["reason"] == "replaced")
        }
    }

    @Test("browser flow: /oidc/start → provider → /oidc/callback lands on the portal with a session")
    func browserFlow() async throws {
        let mock = try await OIDCMock.shared()
        try await Harness.run(.router, Self.settings(issuer: mock.issuer)) { harness, client in
            let start = try await client.send(.get, "/api/auth/oidc/start")
            #expect(start.status == .found)
            let location = try #require(start.headers[.location])
            let authorization = try #require(URLComponents(string: location))
            #expect(location.hasPrefix(mock.issuer + "/oauth2/authorize"))
            #expect(authorization.query("code_challenge_method") == "S256")
            #expect(authorization.query("client_id") == Self.clientID)
            let state = try #require(authorization.query("state"))
            let cookie = try #require(start.headers[.setCookie])
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"))
            #expect(cookie.hasPrefix("neosc_oidc_state=\(state)"))

            let redirect = try await mock.approve(location, as: "zitadel-bob")
            #expect(redirect.query("state") == state)
            let code = try #require(redirect.query("code"))
            let callback = "/api/auth/oidc/callback?code=\(code)&state=\(state)"

            // Without the browser's cookie the callback is refused (login CSRF).
            let firstRefusal = ContinuousClock.now
            let stranger = try await client.send(.get, callback)
            #expect(stranger.status == .unauthorized)

            // A cookie from another sign-in of this browser does not fit this one either.
            let second = try await client.send(.get, "/api/auth/oidc/start")
            let secondLocation = try #require(second.headers[.location])
            let secondState = try #require(URLComponents(string: secondLocation)?.query("state"))
            let wrongCookie = try await client.send(.get, callback, headers: [.cookie: "neosc_oidc_state=\(secondState)"])
            #expect(wrongCookie.status == .unauthorized)

            // Neither attempt consumed the sign-in: the browser that began it completes it.
            let landed = try await client.send(.get, callback, headers: [.cookie: "neosc_oidc_state=\(state)"])
            #expect(landed.status == .seeOther, "\(landed.text)")
            let portal = try #require(landed.headers[.location])
            #expect(portal.hasPrefix(Self.portalURL + "#"))
            let fragment = try #require(URLComponents(string: "x:?" + portal.split(separator: "#")[1]))
            let token = try #require(fragment.query("access_token"))
            let me = try await client.send(.get, "/api/auth/me", token: token)
            #expect(try me.decoded(UserBody.self).role == "neosc")

            // The same state cannot complete twice.
            let replay = try await client.send(.get, callback, headers: [.cookie: "neosc_oidc_state=\(state)"])
            #expect(replay.status == .unauthorized)
            let apart = ContinuousClock.now - firstRefusal
            let reasons = try await harness.store.events(AuditQuery(action: .ssoLoginFailed)).compactMap { $0.details["reason"] }
            // One row for the window of 60 s from the first (the real clock's: the provider signs
            // on it), unless a loaded machine kept the refusals further apart than that.
            #expect(
                reasons == ["unknown_state"] || (apart >= .seconds(60) && Set(reasons) == ["unknown_state"]),
                "the stranger, the wrong cookie, the replay: one row for the minute (\(reasons), \(apart) apart)")
            #expect(harness.metric(#"auth_failures_total{reason="unknown_state"}"#) == 3)
        }
    }

    /// Every forgery of an ID token is refused with a 401 and audited with its reason.
    @Test(
        "ID token rejections: expired, wrong aud, wrong iss, bad signature, alg none, HS256 with the public key, unknown kid, replayed or missing nonce, not yet valid, no subject"
    )
    func idTokenRejections() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.router, Self.settings(issuer: signer.issuer)) { harness, client in
                let roles: [String: any Sendable] = [
                    "email": "erin@example.com", "email_verified": true,
                    "urn:zitadel:iam:org:project:roles": ["user": ["org-1": "example.com"]],
                ]
                func claims(_ extra: [String: any Sendable] = [:], lifetime: TimeInterval = 300) -> [String: any Sendable] {
                    signer.claims(
                        subject: "erin", audience: Self.clientID, lifetime: lifetime,
                        extra: roles.merging(["nonce": UUID().uuidString]) { $1 }.merging(extra) { $1 })
                }
                func sso(_ idToken: String) async throws -> Reply {
                    try await client.send(.post, "/api/auth/sso", json: body(["id_token": idToken]))
                }

                let good = signer.token(claims())
                let accepted = try await sso(good)
                #expect(accepted.status == .ok, "\(accepted.text)")
                #expect(try accepted.decoded(SignedInBody.self).user.role == "user")

                let intruder = TestSigner.SigningKey(kid: signer.currentKey.kid, key: P256.Signing.PrivateKey())
                let forgeries: [(String, String)] = [
                    ("expired", signer.token(claims(lifetime: -120))),
                    // Not "expired" (a probe: a token for ten days was reported so).
                    ("lifetime_too_long", signer.token(claims(lifetime: 10 * 86_400))),
                    ("missing_expiry", signer.token(claims().filter { $0.key != "exp" })),
                    ("wrong_audience", signer.token(claims(["aud": "another-client"]))),
                    ("wrong_issuer", signer.token(claims(["iss": "https://evil.example.com"]))),
                    ("bad_signature", signer.token(claims(), key: intruder)),
                    ("unsupported_algorithm", signer.unsignedToken(claims())),
                    ("unsupported_algorithm", signer.publicKeyHMACToken(claims())),
                    ("unknown_kid", signer.token(claims(), key: intruder, kid: "not-published")),
                    ("replayed_nonce", good),
                    ("missing_nonce", signer.token(claims(["nonce": NSNull()]).filter { $0.key != "nonce" })),
                    ("not_yet_valid", signer.token(claims(["nbf": Int(Date().timeIntervalSince1970) + 3_600]))),
                    ("not_yet_valid", signer.token(claims(["iat": Int(Date().timeIntervalSince1970) + 3_600]))),
                    ("missing_subject", signer.token(claims(["sub": ""]))),
                    ("malformed_token", "not.a.jwt"),
                    // A time claim that is no time is no claim to ignore (a probe: accepted).
                    ("malformed_token", signer.token(claims(["iat": "abc"]))),
                    ("malformed_token", signer.token(claims(["nbf": "x"]))),
                    ("malformed_token", signer.token(claims(["exp": ["soon"]]))),
                ]
                for (reason, token) in forgeries {
                    let refused = try await sso(token)
                    #expect(refused.status == .unauthorized, "\(reason): \(refused.text)")
                    #expect(refused.detail != nil)
                }
                let audited = try await harness.store.events(AuditQuery(action: .ssoLoginFailed, limit: 50))
                #expect(Set(audited.map { $0.details["reason"] ?? "" }) == Set(forgeries.map(\.0)), "each reason audited")
                #expect(audited.count == Set(forgeries.map(\.0)).count, "once a minute per address and reason")
                #expect(audited.allSatisfy { !$0.success })
            }
        }
    }

    /// The review: an account someone registered and its owner linked before this rule kept the
    /// registrant's password. Its next sign-in through the provider reclaims it.
    @Test("a self-registered account linked before reclaims existed loses the registrant's password at its next provider sign-in")
    func anAccountLinkedBeforeIsReclaimed() async throws {
        let mock = try await OIDCMock.shared()
        try await Harness.run(.router, Self.settings(issuer: mock.issuer)) { harness, client in
            let registered = try await client.send(
                .post, "/api/auth/register",
                json: body(["email": "alice@example.com", "password": "a registrant's own phrase", "name": "Not Alice"]))
            let registrants = try registered.decoded(SignedInBody.self)
            // Linked as the old rule linked it: the password kept.
            let stored = try #require(try await harness.store.user(id: registrants.user.id))
            var linked = stored
            linked.ssoProvider = mock.issuer
            linked.ssoSubject = "zitadel-alice"
            try await harness.store.updateKeepingAnAdministrator(linked, from: stored)
            let owner = try await Self.exchange(mock, as: "zitadel-alice", client: client)
            #expect(owner.status == .ok, "\(owner.text)")
            #expect(try await harness.store.user(id: stored.id)?.passwordHash == nil)
            #expect(try await client.send(.get, "/api/auth/me", token: registrants.accessToken).status == .unauthorized)
            let password = try await client.send(
                .post, "/api/auth/login", json: body(["email": "alice@example.com", "password": "a registrant's own phrase"]))
            #expect(password.status == .unauthorized)
            #expect(try await Self.exchange(mock, as: "zitadel-alice", client: client).status == .ok, "and it signs in as any linked account")
        }
    }

    /// A probe: an administrator who had disabled the squatted account locked the owner out, and
    /// enabling it gave the registrant their password back.
    @Test("a disabled self-registered account is reclaimed all the same, and stays disabled until enabled")
    func aDisabledRegistrantsAccountIsReclaimed() async throws {
        let mock = try await OIDCMock.shared()
        try await Harness.run(.router, Self.settings(issuer: mock.issuer)) { harness, client in
            let admin = try await harness.account(.admin).token
            let registered = try await client.send(
                .post, "/api/auth/register",
                json: body(["email": "alice@example.com", "password": "a registrant's own phrase", "name": "Not Alice"]))
            let id = try registered.decoded(SignedInBody.self).user.id
            #expect(try await client.send(.patch, "/api/users/\(id)", token: admin, json: #"{"disabled":true}"#).status == .ok)
            let refused = try await Self.exchange(mock, as: "zitadel-alice", client: client)
            #expect(refused.status == .forbidden, "\(refused.text)")
            let reclaimed = try #require(try await harness.store.user(id: id))
            #expect(reclaimed.passwordHash == nil && reclaimed.ssoSubject == "zitadel-alice" && reclaimed.disabled)
            #expect(try await client.send(.patch, "/api/users/\(id)", token: admin, json: #"{"disabled":false}"#).status == .ok)
            let password = try await client.send(
                .post, "/api/auth/login", json: body(["email": "alice@example.com", "password": "a registrant's own phrase"]))
            #expect(password.status == .unauthorized, "enabling gives the registrant nothing back")
            let enabled = try await Self.exchange(mock, as: "zitadel-alice", client: client)
            #expect(enabled.status == .ok, "\(enabled.text)")
        }
    }

    /// A probe: the registrant's password login, under way (its bcrypt) when the owner's first
    /// sign-in through the provider reclaimed the account, issued its token after the reclaim had
    /// revoked every token, and that token carried the owner's role, `admin`. Here the login's
    /// password check waits on a hasher whose only thread is held until the reclaim is done.
    @Test("a password sign-in under way when the provider reclaims the account gets no token")
    func aSignInUnderWayAtTheReclaimGetsNoToken() async throws {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let passwords = PasswordHasher(cost: 4, threadPool: pool)
        defer { Task { try? await pool.shutdownGracefully() } }
        try await TestSigner.with { signer in
            try await Harness.run(.router, passwords: passwords, Self.settings(issuer: signer.issuer)) { harness, client in
                let registered = try await client.send(
                    .post, "/api/auth/register", json: body(["email": "ivy@example.com", "password": "a registrant's own phrase", "name": "I"]))
                #expect(registered.status == .created, "\(registered.text)")
                // The hasher's thread is held: the login below waits in its password check.
                let held = DispatchSemaphore(value: 0)
                pool.submit { _ in held.wait() }
                async let login = client.send(
                    .post, "/api/auth/login", json: body(["email": "ivy@example.com", "password": "a registrant's own phrase"]))
                try await Task.sleep(for: .milliseconds(500))
                let claims = signer.claims(
                    subject: "ivy", audience: Self.clientID, lifetime: 300,
                    extra: [
                        "email": "ivy@example.com", "email_verified": true, "nonce": UUID().uuidString,
                        "urn:zitadel:iam:org:project:roles": ["admin": ["org-1": "example.com"]],
                    ])
                let owner = try await client.send(.post, "/api/auth/sso", json: body(["id_token": signer.token(claims)]))
                #expect(owner.status == .ok, "\(owner.text)")
                held.signal()
                let raced = try await login
                #expect(raced.status == .unauthorized, "\(raced.text)")
                if let token = raced["access_token"] as? String {
                    #expect(try await client.send(.get, "/api/users", token: token).status == .unauthorized)
                }
                let failed = try await harness.store.events(AuditQuery(action: .loginFailed, limit: 10))
                #expect(failed.contains { $0.details["reason"] == "password_changed_meanwhile" }, "\(failed.map(\.details))")
            }
        }
    }

    /// The verifier takes the issuer with or without its trailing slash; the account's key must
    /// not depend on which (a probe got a second account for one person, and a 409 for its mail).
    @Test("one person is one account whether the ID token spells the issuer with a trailing slash or not")
    func issuerSpellingsAreOneProvider() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.router, Self.settings(issuer: signer.issuer)) { harness, client in
                func signIn(issuer: String, subject: String, email: String) async throws -> Reply {
                    let claims = signer.claims(
                        subject: subject, audience: Self.clientID, lifetime: 300,
                        extra: [
                            "iss": issuer, "email": email, "email_verified": true, "nonce": UUID().uuidString,
                            "urn:zitadel:iam:org:project:roles": ["user": ["org-1": "example.com"]],
                        ])
                    return try await client.send(.post, "/api/auth/sso", json: body(["id_token": signer.token(claims)]))
                }
                let plain = try await signIn(issuer: signer.issuer, subject: "dana", email: "dana@example.com")
                #expect(plain.status == .ok, "\(plain.text)")
                let slashed = try await signIn(issuer: signer.issuer + "/", subject: "dana", email: "dana@example.com")
                #expect(slashed.status == .ok, "\(slashed.text)")
                #expect(try slashed.decoded(SignedInBody.self).user.id == plain.decoded(SignedInBody.self).user.id)
                let another = try await signIn(issuer: signer.issuer + "/", subject: "dana", email: "dana-new@example.com")
                #expect(another.status == .ok && (try? another.decoded(SignedInBody.self).user.id) == (try? plain.decoded(SignedInBody.self).user.id))
                #expect(try await harness.store.user(email: "dana-new@example.com") == nil, "no second account")

                // An account linked under the slashed spelling before is found, and moved to the configured one.
                let earlier = try await harness.account(.user, email: "eve@example.com")
                var linkedBefore = earlier.user
                linkedBefore.ssoProvider = signer.issuer + "/"
                linkedBefore.ssoSubject = "eve"
                try await harness.store.updateKeepingAnAdministrator(linkedBefore, from: earlier.user)
                let eve = try await signIn(issuer: signer.issuer, subject: "eve", email: "eve@example.com")
                #expect(eve.status == .ok, "\(eve.text)")
                #expect(try eve.decoded(SignedInBody.self).user.id == earlier.user.id)
                #expect(try await harness.store.user(id: earlier.user.id)?.ssoProvider == signer.issuer)
            }
        }
    }

    /// A probe: `email: ""` made an account with no address (and every later empty one a 409), and
    /// `x@demo.neosc.invalid.` (the fully qualified spelling) passed for an address off the demo domain.
    @Test("a provider's empty address is none, and a trailing dot spells the same domain")
    func providerAddressesAreReadAsAddresses() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.router, Self.settings(issuer: signer.issuer)) { harness, client in
                func signIn(_ subject: String, email: String) async throws -> Reply {
                    let claims = signer.claims(
                        subject: subject, audience: Self.clientID, lifetime: 300,
                        extra: [
                            "email": email, "email_verified": true, "nonce": UUID().uuidString,
                            "urn:zitadel:iam:org:project:roles": ["user": ["org-1": "example.com"]],
                        ])
                    return try await client.send(.post, "/api/auth/sso", json: body(["id_token": signer.token(claims)]))
                }
                let empty = try await signIn("nobody", email: " ")
                #expect(empty.status == .forbidden && empty.detail?.contains("no e-mail") == true, "\(empty.text)")
                let demoDomain = try await signIn("visitor-lookalike", email: "x@demo.neosc.invalid.")
                #expect(demoDomain.status == .forbidden, "\(demoDomain.text)")
                // A blank or a control character left inside once the dot is gone: no address either.
                for (subject, email) in [("blank", "zz@demo.neosc.invalid ."), ("space", "sp@corp.com ."), ("newline", "nl@corp.com\n.")] {
                    let refused = try await signIn(subject, email: email)
                    #expect(refused.status == .forbidden, "\(email.debugDescription): \(refused.text)")
                }
                let dotted = try await signIn("fqdn", email: "Frank@Example.COM.")
                #expect(dotted.status == .ok, "\(dotted.text)")
                #expect(try dotted.decoded(SignedInBody.self).user.email == "frank@example.com")
                #expect(try await harness.store.user(email: "") == nil)
            }
        }
    }

    /// Known since the twenty-ninth session: only `email_verified: false` marked the account, so one
    /// made for a provider that sent null, 0 or "False" held its address against the verified owner.
    @Test(
        "an address the provider sends email_verified for as a no (false, null, 0, \"False\", \"no\", \"\") is unverified; absent or unclear, it is not"
    )
    func aStatedNoMarksTheAddress() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.router, Self.settings(issuer: signer.issuer)) { harness, client in
                func signIn(_ subject: String, verified: (any Sendable)?) async throws -> Reply {
                    var extra: [String: any Sendable] = [
                        "email": "\(subject)@example.com", "nonce": UUID().uuidString,
                        "urn:zitadel:iam:org:project:roles": ["user": ["org-1": "example.com"]],
                    ]
                    extra["email_verified"] = verified
                    let claims = signer.claims(subject: subject, audience: Self.clientID, lifetime: 300, extra: extra)
                    return try await client.send(.post, "/api/auth/sso", json: body(["id_token": signer.token(claims)]))
                }
                let doubts: [(String, any Sendable)] = [
                    ("null", NSNull()), ("zero", 0), ("capital", "False"), ("no", "no"), ("false", false), ("empty", ""),
                ]
                for (subject, verified) in doubts {
                    let reply = try await signIn(subject, verified: verified)
                    #expect(reply.status == .ok, "\(subject): \(reply.text)")
                    let made = try #require(try await harness.store.user(email: "\(subject)@example.com"))
                    #expect(made.addressUnverified, "email_verified \(subject) marks the address")
                }
                // A mark lets another identity take the account: what is not plainly no marks nothing.
                let unmarked: [(String, (any Sendable)?)] = [
                    ("silent", nil), ("vouched", true), ("forwarded", "true"), ("capitalyes", "True"), ("one", 1),
                ]
                for (subject, verified) in unmarked {
                    #expect(try await signIn(subject, verified: verified).status == .ok)
                    let made = try #require(try await harness.store.user(email: "\(subject)@example.com"))
                    #expect(!made.addressUnverified, "\(subject) marks nothing")
                }
                // The owner of a doubted address takes it back with a verified sign-in.
                let owner = signer.claims(
                    subject: "zero-owner", audience: Self.clientID, lifetime: 300,
                    extra: [
                        "email": "zero@example.com", "email_verified": true, "nonce": UUID().uuidString,
                        "urn:zitadel:iam:org:project:roles": ["user": ["org-1": "example.com"]],
                    ])
                let reclaimed = try await client.send(.post, "/api/auth/sso", json: body(["id_token": signer.token(owner)]))
                #expect(reclaimed.status == .ok, "\(reclaimed.text)")
                let account = try #require(try await harness.store.user(email: "zero@example.com"))
                #expect(account.ssoSubject == "zero-owner" && !account.addressUnverified)
            }
        }
    }

    /// A probe: three refused sign-ins of two disabled accounts within a minute made one entry, with
    /// no user: who tried was lost, though the provider had vouched for them.
    @Test("a refused sign-in of an identity the provider vouched for names its account, one entry a minute per identity")
    func refusalsOfVerifiedIdentitiesNameTheAccount() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.router, Self.settings(issuer: signer.issuer)) { harness, client in
                let admin = try await harness.account(.admin).token
                func signIn(_ subject: String) async throws -> Reply {
                    let claims = signer.claims(
                        subject: subject, audience: Self.clientID, lifetime: 300,
                        extra: [
                            "email": "\(subject)@example.com", "email_verified": true, "nonce": UUID().uuidString,
                            "urn:zitadel:iam:org:project:roles": ["user": ["org-1": "example.com"]],
                        ])
                    return try await client.send(.post, "/api/auth/sso", json: body(["id_token": signer.token(claims)]))
                }
                var ids: [String] = []
                for subject in ["gail", "hank"] {
                    let first = try await signIn(subject)
                    let id = try first.decoded(SignedInBody.self).user.id
                    ids.append(id)
                    let disabled = try await client.send(.patch, "/api/users/\(id)", token: admin, json: #"{"disabled":true}"#)
                    #expect(disabled.status == .ok, "\(disabled.text)")
                }
                for subject in ["gail", "hank", "gail"] {
                    #expect(try await signIn(subject).status == .forbidden)
                }
                let refused = try await harness.store.events(AuditQuery(action: .ssoLoginFailed, limit: 10))
                #expect(Set(refused.compactMap(\.userID)) == Set(ids), "each account named")
                #expect(refused.count == 2, "one entry a minute per identity: \(refused.map(\.details))")
                #expect(Set(refused.compactMap { $0.details["subject"] }) == ["gail", "hank"])
            }
        }
    }

    @Test("a token bound to a demo session is refused once the demo is over, however long the token lives")
    func expiredDemoBinding() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.router, Self.settings(issuer: signer.issuer)) { harness, client in
                // The binding names a demo NeoSC runs: its visitor is who the identity acts as.
                let visitor = try await harness.account(.demoUser)
                let demoID = try #require(try await harness.store.demo(userID: visitor.user.id)).id
                func demo(endingIn seconds: TimeInterval) -> String {
                    signer.token(
                        signer.claims(
                            subject: "visitor-\(seconds)", audience: Self.clientID, lifetime: 3_600,
                            extra: [
                                "nonce": UUID().uuidString, "email": "visitor\(Int(seconds))@example.com",
                                "groups": ["demo-user"],
                                "urn:zitadel:iam:org:project:roles": ["demo-user": ["org-1": "example.com"]],
                                "neosc:demo_session_id": demoID, "neosc:workspace_type": "linux",
                                "neosc:demo_expires_at": Int(Date().timeIntervalSince1970 + seconds),
                                "neosc:max_duration": 7_200,
                            ]))
                }
                let over = try await client.send(.post, "/api/auth/sso", json: body(["id_token": demo(endingIn: -5)]))
                #expect(over.status == .unauthorized)
                #expect(over.detail == "Demo session has expired")

                let live = try await client.send(.post, "/api/auth/sso", json: body(["id_token": demo(endingIn: 120)]))
                #expect(live.status == .ok)
                let expiresAt = try live.decoded(SignedInBody.self).expiresAt
                #expect(expiresAt.timeIntervalSinceNow < 125, "the NeoSC token ends with the demo, not 8 hours later")
                #expect(try live.decoded(SignedInBody.self).user.role == "demo-user")
            }
        }
    }

    @Test("without ZITADEL_AUTHORITY the SSO endpoints say so")
    func notConfigured() async throws {
        try await Harness.run { _, client in
            let sso = try await client.send(.post, "/api/auth/sso", json: body(["id_token": "x"]))
            #expect(sso.status == .notFound)
            #expect(sso.detail?.contains("ZITADEL_AUTHORITY") == true)
        }
    }
}
