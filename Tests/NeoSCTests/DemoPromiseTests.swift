import Actors
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Integrations
import Net
import Services
import TestSupport
import Testing

@testable import App

/// What docs/demos.md and docs/identity.md promise about demos and the identities bound to them:
/// a failed provisioning leaves nothing behind, a provider identity bound to a NeoSC demo ends
/// with it, and a `demo-user` reaches nothing without an active demo.
@Suite("Demos: what the docs promise")
struct DemoPromiseTests {
    static let clientID = "neosc-portal"
    static let route = "neosc.test"
    static let secret = "a-webhook-secret-of-at-least-32-chars!"

    static func webhook(_ peer: RecordingPeer, perAddress: Int = 3) -> (inout Configuration) -> Void {
        { configuration in
            configuration.demo.enabled = true
            configuration.demo.maxActivePerAddress = perAddress
            configuration.demo.retryDelay = 0.05
            configuration.provisioner = .webhook
            configuration.provisionURL = peer.url + "/hook"
            configuration.provisionSecret = Secret(secret)
        }
    }

    static func oidc(issuer: String) -> (inout Configuration) -> Void {
        { configuration in
            configuration.demo.enabled = true
            configuration.oidc = OIDCSettings(issuer: issuer, clientID: clientID)
            configuration.keyRefreshInterval = 1
        }
    }

    static func pomerium(signer: TestSigner) -> (inout Configuration) -> Void {
        { configuration in
            configuration.demo.enabled = true
            configuration.authMode = .pomerium
            configuration.pomerium = PomeriumSettings(jwksURL: signer.jwksURL, audiences: [route])
            configuration.keyRefreshInterval = 1
        }
    }

    /// The demo claims a provider puts in a token bound to demo `id`.
    static func binding(_ id: String, endingIn seconds: TimeInterval = 3_600) -> [String: any Sendable] {
        [
            "neosc:demo_session_id": id, "neosc:workspace_type": "browser",
            "neosc:demo_expires_at": Int(Date().timeIntervalSince1970 + seconds), "neosc:max_duration": 7_200,
        ]
    }

    /// `issuedAt` is NeoSC's time: a test on a `ManualClock` passes the clock's, or an assertion
    /// signed after real time has run past the frozen clock's leeway is not yet valid.
    static func assertion(
        _ signer: TestSigner, subject: String, groups: [String], extra: [String: any Sendable] = [:], issuedAt: Date = Date()
    ) -> String {
        signer.token(
            signer.claims(
                subject: subject, audience: route,
                extra: ["iss": route, "email": "\(subject)@example.com", "groups": groups].merging(extra) { $1 }, issuedAt: issuedAt))
    }

    static func headers(_ assertion: String) -> HTTPFields {
        [HTTPField.Name("X-Pomerium-Jwt-Assertion")!: assertion]
    }

    /// A `demo-user` account made by hand, with a password and a live token but no demo at all.
    static func demoUserWithoutDemo(_ harness: Harness) async throws -> (user: User, token: String) {
        let now = Date()
        let user = User(
            id: Identifier.make("usr"), email: "lonely-\(UUID().uuidString.prefix(8).lowercased())@example.com", name: "No demo",
            organizationID: nil, role: .demoUser, passwordHash: try await Harness.passwordHash.value(), createdAt: now,
            updatedAt: now)
        try await harness.store.insert(user, creating: nil)
        return (user, try await token(for: user, harness))
    }

    /// A bearer token for `user`, stored as NeoSC stores the ones it issues.
    static func token(for user: User, _ harness: Harness) async throws -> String {
        let (token, digest) = BearerCredential.issue()
        try await harness.store.insert(
            AccessToken(digest: digest, userID: user.id, issuedAt: Date(), expiresAt: Date() + 3_600, mfaVerified: false))
        return token
    }

    // MARK: - Provisioning failure

    @Test("provisioning fails → 503 {detail}, cleaned up at once: no active demo, no usable account or token, audited")
    func provisioningFailure() async throws {
        try await RecordingPeer.with { peer in
            peer.fail("POST /hook provision", times: 1)
            try await Harness.run(.router, Self.webhook(peer, perAddress: 1)) { harness, client in
                let failed = try await client.send(
                    .post, "/api/demo/sessions", json: body(["workspace_type": "browser", "email": "visitor@example.com"]))
                #expect(failed.status == .serviceUnavailable, "\(failed.text)")
                #expect(failed.detail?.isEmpty == false)
                #expect(failed["access_token"] == nil)

                // Cleaned up before the answer: nothing active, the demo ended with every step done.
                #expect(try await harness.store.activeDemoCount() == 0)
                let demos = try await harness.store.demos(userID: nil, limit: 10)
                #expect(demos.count == 1)
                let demo = try #require(demos.first)
                #expect(demo.status == .ended)
                #expect(demo.endedAt != nil)
                #expect(demo.completedSteps == DemoCleanupStep.allCases)
                #expect(peer.calls.filter { $0.event == "deprovision" }.count == 1, "what may have been provisioned is taken down")

                // The account made for it is of no use: any token it could hold is refused.
                let visitor = try #require(try await harness.store.user(id: demo.userID))
                #expect(visitor.role == .demoUser)
                let token = try await Self.token(for: visitor, harness)
                let refused = try await client.send(.get, "/api/auth/me", token: token)
                #expect(refused.status == .unauthorized)
                #expect(try await client.send(.get, "/api/workspaces", token: token).status == .unauthorized)

                // Audited: the failed creation, the clean-up's steps, the demo's end.
                let creations = try await harness.store.events(AuditQuery(action: .demoSessionCreated))
                #expect(creations.count == 1)
                let creation = try #require(creations.first)
                #expect(!creation.success)
                #expect(creation.resourceID == demo.id)
                #expect(creation.details["reason"] == "provisioning_failed")
                #expect(creation.details["error"]?.isEmpty == false)
                let ended = try await harness.store.events(AuditQuery(action: .demoSessionEnded)).filter { $0.resourceID == demo.id }
                #expect(ended.count == 1)
                let steps = try await harness.store.events(AuditQuery(action: .demoCleanupStep)).filter { $0.resourceID == demo.id }
                #expect(Set(steps.compactMap { $0.details["step"] }) == Set(DemoCleanupStep.allCases.dropLast().map(\.rawValue)))

                // Nothing left counts against the per-address limit (1 here): the next try succeeds.
                let retried = try await client.send(.post, "/api/demo/sessions", json: body(["workspace_type": "browser"]))
                #expect(retried.status == .created, "\(retried.text)")
                #expect(try await harness.store.activeDemoCount() == 1)
            }
        }
    }

    /// The provisioner's reply is unsigned, and the visitor's page links to its `connection_url`:
    /// one that is no http(s) URL or path (`javascript:…`) fails the start like a failed provisioning,
    /// and what was provisioned is taken down.
    @Test("a provisioner's connection_url that is no http(s) URL or path fails the start, undone; nothing is handed out")
    func aConnectionURLThatIsNoLinkFailsTheStart() async throws {
        for url in ["javascript:alert(document.domain)//", "data:text/html,<script>alert(1)</script>", "//evil.example/x"] {
            try await RecordingPeer.with { peer in
                peer.reply("POST /hook provision", with: body(["connection_url": url]))
                try await Harness.run(.router, Self.webhook(peer, perAddress: 1)) { harness, client in
                    let failed = try await client.send(
                        .post, "/api/demo/sessions", json: body(["workspace_type": "browser", "email": "visitor@example.com"]))
                    #expect(failed.status == .serviceUnavailable, "\(url): \(failed.text)")
                    #expect(failed["access_token"] == nil && !failed.text.contains(url))
                    #expect(try await harness.store.activeDemoCount() == 0)
                    let demo = try #require(try await harness.store.demos(userID: nil, limit: 10).first)
                    #expect(demo.status == .ended && demo.connectionURL != url)
                    #expect(try await eventually { peer.calls.contains { $0.event == "deprovision" } }, "what was provisioned is taken down")
                    let creation = try await harness.store.events(AuditQuery(action: .demoSessionCreated)).first
                    #expect(creation?.success == false && creation?.details["reason"] == "provisioning_failed")
                }
            }
        }
    }

    // MARK: - Provider identities bound to a demo

    /// A request cancelled while its demo is being provisioned (a shutdown past its grace
    /// period) still cleans the demo up at once: the clean-up runs in a task of its own, where in
    /// the cancelled request's task its writes failed and the demo held its slot until it expired.
    @Test("a demo start cancelled during provisioning is cleaned up at once", .timeLimit(.minutes(2)))
    func cancelledDuringProvisioning() async throws {
        try await RecordingPeer.with { peer in
            peer.delay("POST /hook provision", by: .seconds(30))
            let harness = try await Harness.open(Self.webhook(peer, perAddress: 1))
            try await closing([{ try await harness.close(removing: true) }]) {
                let start = Task {
                    try await harness.portal.demos.start(workspaceType: "browser", contactEmail: nil, from: "192.0.2.7")
                }
                #expect(try await eventually { peer.calls.contains { $0.event == "provision" } })
                start.cancel()
                await #expect(throws: (any Error).self) { try await start.value }
                #expect(try await harness.store.activeDemoCount() == 0, "nothing left active")
                let demo = try #require(try await harness.store.demos(userID: nil, limit: 10).first)
                #expect(demo.status == .ended)
                #expect(demo.completedSteps == DemoCleanupStep.allCases)
                let creations = try await harness.store.events(AuditQuery(action: .demoSessionCreated))
                #expect(creations.map(\.success) == [false], "the failed creation is audited")
                #expect(creations.first?.details["reason"] == "provisioning_failed")
            }
        }
    }

    @Test("OIDC: an ID token bound to a NeoSC demo signs in as that demo's visitor, and is refused once the demo has ended")
    func oidcBindingEndsWithTheDemo() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.router, Self.oidc(issuer: signer.issuer)) { harness, client in
                let admin = try await harness.account(.admin)
                let visitor = try await harness.account(.demoUser)
                let demo = try #require(try await harness.store.demo(userID: visitor.user.id))
                func signIn(_ binding: [String: any Sendable]) async throws -> Reply {
                    let claims = signer.claims(
                        subject: "zitadel-visitor", audience: Self.clientID, lifetime: 3_600,
                        extra: [
                            "nonce": UUID().uuidString, "email": "visitor@example.com",
                            "urn:zitadel:iam:org:project:roles": ["demo-user": ["org-1": "example.com"]],
                        ].merging(binding) { $1 })
                    return try await client.send(.post, "/api/auth/sso", json: body(["id_token": signer.token(claims)]))
                }

                let signedIn = try await signIn(Self.binding(demo.id))
                #expect(signedIn.status == .ok, "\(signedIn.text)")
                #expect(try signedIn.decoded(SignedInBody.self).user.id == visitor.user.id, "the demo's own visitor")
                let token = try signedIn.decoded(SignedInBody.self).accessToken
                // The NeoSC token works, within the demo's bounds.
                #expect(try await client.send(.get, "/api/auth/me", token: token).decoded(UserBody.self).role == "demo-user")
                #expect(try await client.send(.get, "/api/workspaces", token: token).decoded([WorkspaceBody].self).map(\.id) == [demo.workspaceID])
                #expect(try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: token).status == .forbidden)
                let login = try #require(try await harness.store.events(AuditQuery(action: .ssoLogin)).first)
                #expect(login.details["demo_session_id"] == demo.id && login.details["subject"] == "zitadel-visitor")

                let ended = try await client.send(.delete, "/api/demo/sessions/\(demo.id)", token: admin.token)
                #expect(ended.status == .ok, "\(ended.text)")
                #expect(try ended.decoded(DemoBody.self).status == "ended")

                // The token it yielded, and any new sign-in bound to it, are refused from then on.
                #expect(try await client.send(.get, "/api/auth/me", token: token).status == .unauthorized)
                let again = try await signIn(Self.binding(demo.id))
                #expect(again.status == .unauthorized)
                #expect(again.detail == TokenRejection.demoExpired.detail)
                // A binding to a demo NeoSC does not run grants nothing either.
                let unknown = try await signIn(Self.binding("demo_unknown"))
                #expect(unknown.status == .unauthorized)
                let reasons = try await harness.store.events(AuditQuery(action: .ssoLoginFailed)).compactMap { $0.details["reason"] }
                #expect(reasons == ["demo_expired"], "one row per address, reason and minute")
                #expect(harness.metric(#"auth_failures_total{reason="demo_expired"}"#) == 2)
                #expect(try await harness.store.user(email: "visitor@example.com") == nil, "no second account for the visitor")
            }
        }
    }

    @Test("Pomerium: an assertion bound to a NeoSC demo acts as its visitor and is refused as soon as the demo ends, cached or not")
    func pomeriumBindingEndsWithTheDemo() async throws {
        // The identity cache never ages on this clock: only an eviction can stop it serving.
        let clock = ManualClock(Date())
        try await TestSigner.with { signer in
            try await Harness.run(.router, clock: clock.wallClock, Self.pomerium(signer: signer)) { harness, client in
                let visitor = try await harness.account(.demoUser)
                let demo = try #require(try await harness.store.demo(userID: visitor.user.id))
                let bound = Self.assertion(
                    signer, subject: "pomerium-visitor", groups: ["demo-user"], extra: Self.binding(demo.id), issuedAt: clock.now)
                let me = try await client.send(.get, "/api/auth/me", headers: Self.headers(bound))
                #expect(me.status == .ok, "\(me.text)")
                #expect(try me.decoded(UserBody.self).id == visitor.user.id)
                let listed = try await client.send(.get, "/api/workspaces", headers: Self.headers(bound))
                #expect(try listed.decoded([WorkspaceBody].self).map(\.id) == [demo.workspaceID], "scoped to the demo's workspace")
                #expect(harness.portal.tokenCache.count == 1, "the assertion's identity is cached")

                let admin = Self.assertion(signer, subject: "pomerium-admin", groups: ["admin"], issuedAt: clock.now)
                let ended = try await client.send(.delete, "/api/demo/sessions/\(demo.id)", headers: Self.headers(admin))
                #expect(ended.status == .ok, "\(ended.text)")

                let refused = try await client.send(.get, "/api/auth/me", headers: Self.headers(bound))
                #expect(refused.status == .unauthorized, "served from the cache after the demo ended: \(refused.text)")
                #expect(refused.detail == TokenRejection.demoExpired.detail)
                let unknown = Self.assertion(
                    signer, subject: "pomerium-visitor-2", groups: ["demo-user"], extra: Self.binding("demo_unknown"), issuedAt: clock.now)
                #expect(try await client.send(.get, "/api/auth/me", headers: Self.headers(unknown)).status == .unauthorized)
                let reasons = try await harness.store.events(AuditQuery(action: .pomeriumAssertionRejected)).compactMap { $0.details["reason"] }
                #expect(reasons == ["demo_expired"], "the same refusal from one address is audited once a minute")
                #expect(harness.metric(#"auth_failures_total{reason="demo_expired"}"#) == 2, "and counted every time")
            }
        }
    }

    // MARK: - A demo user without a demo

    @Test("a demo-user with no demo reaches nothing: its token is refused, and its login like a disabled account's (audited no_active_demo)")
    func localDemoUserWithoutDemo() async throws {
        try await Harness.run(.router, { $0.demo.enabled = true }) { harness, client in
            let lonely = try await Self.demoUserWithoutDemo(harness)
            for (method, path) in [
                (HTTPRequest.Method.get, "/api/auth/me"), (.get, "/api/workspaces"), (.get, "/api/workspaces/ws-secure-browser"),
                (.post, "/api/workspaces/ws-secure-browser/launch"), (.get, "/api/demo/sessions"),
            ] {
                let refused = try await client.send(method, path, token: lonely.token)
                #expect(refused.status == .unauthorized, "\(method) \(path) → \(refused.status.code)")
                #expect(refused.detail?.isEmpty == false)
            }
            #expect(try await harness.store.sessions(userID: lonely.user.id, status: nil, limit: 10).isEmpty)

            let login = try await client.send(
                .post, "/api/auth/login", json: body(["email": lonely.user.email, "password": Harness.password]))
            #expect(login.status == .unauthorized, "\(login.text)")
            #expect(login.detail == "Invalid credentials", "the answer of any failed login: it does not confirm the password")
            #expect(login["access_token"] == nil)
            let failures = try await harness.store.events(AuditQuery(action: .loginFailed))
            #expect(failures.count == 1)
            #expect(failures.first?.details["reason"] == "no_active_demo")
            #expect(failures.first?.resourceID == lonely.user.id)
            #expect(try await harness.store.events(AuditQuery(action: .login)).isEmpty)

            // With its demo, the same kind of account signs in and works.
            let visitor = try await harness.account(.demoUser, email: "visitor-\(UUID().uuidString.prefix(8).lowercased())@example.com")
            let withDemo = try await client.send(
                .post, "/api/auth/login", json: body(["email": visitor.user.email, "password": Harness.password]))
            #expect(withDemo.status == .ok, "\(withDemo.text)")
            #expect(try await client.send(.get, "/api/auth/me", token: visitor.token).status == .ok)
        }
    }

    @Test("a provider's demo-user role without demo claims is refused (403) and audited, through OIDC and through Pomerium")
    func providerDemoUserWithoutDemo() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.router, Self.oidc(issuer: signer.issuer)) { harness, client in
                let claims = signer.claims(
                    subject: "zitadel-drifter", audience: Self.clientID,
                    extra: [
                        "nonce": UUID().uuidString, "email": "drifter@example.com",
                        "urn:zitadel:iam:org:project:roles": ["demo-user": ["org-1": "example.com"]],
                    ])
                let refused = try await client.send(.post, "/api/auth/sso", json: body(["id_token": signer.token(claims)]))
                #expect(refused.status == .forbidden, "\(refused.text)")
                #expect(refused.detail?.contains("neosc:demo_session_id") == true)
                let failures = try await harness.store.events(AuditQuery(action: .ssoLoginFailed))
                #expect(failures.map { $0.details["reason"] } == ["not_allowed"])
                #expect(try await harness.store.user(email: "drifter@example.com") == nil)
            }
            try await Harness.run(.router, Self.pomerium(signer: signer)) { harness, client in
                let unbound = Self.assertion(signer, subject: "pomerium-drifter", groups: ["demo-user"])
                for path in ["/api/auth/me", "/api/workspaces"] {
                    let refused = try await client.send(.get, path, headers: Self.headers(unbound))
                    #expect(refused.status == .forbidden, "\(path): \(refused.text)")
                }
                let failures = try await harness.store.events(AuditQuery(action: .pomeriumAssertionRejected))
                #expect(failures.map { $0.details["reason"] } == ["not_allowed"], "audited once a minute per address")
                #expect(harness.metric(#"auth_failures_total{reason="not_allowed"}"#) == 2)
                #expect(try await harness.store.user(email: "pomerium-drifter@example.com") == nil)
            }
        }
    }
}
