import Actors
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Integrations
import Net
import TestSupport
import Testing

@testable import App

/// `NEOSC_AUTH_MODE=pomerium`: every API request carries Pomerium's signed assertion, checked
/// against keys served by a test signer that can rotate them.
@Suite("Pomerium identity")
struct PomeriumTests {
    static let route = "neosc.test"

    static func settings(signer: TestSigner, trustHeadersFrom proxies: String? = nil) -> (inout Configuration) -> Void {
        { configuration in
            configuration.authMode = .pomerium
            configuration.pomerium = PomeriumSettings(
                jwksURL: signer.jwksURL, audiences: [route], trustIdentityHeaders: proxies != nil)
            if let proxies { configuration.trustedProxies = TrustedProxies([AddressRange(proxies)!]) }
            configuration.keyRefreshInterval = 1
        }
    }

    /// An assertion as Pomerium mints it for `route`: `iss` and `aud` are the route host.
    static func assertion(
        _ signer: TestSigner, subject: String = "pomerium-user-1", email: String = "paula@example.com",
        groups: [String] = ["neosc"], lifetime: TimeInterval = 300, extra: [String: any Sendable] = [:],
        key: TestSigner.SigningKey? = nil, issuedAt: Date = Date()
    ) -> String {
        var claims = signer.claims(
            subject: subject, audience: route, lifetime: lifetime,
            extra: ["iss": route, "email": email, "groups": groups, "name": "Paula", "user": subject], issuedAt: issuedAt)
        claims.merge(extra) { $1 }
        return signer.token(claims, key: key)
    }

    static func headers(_ assertion: String) -> HTTPFields {
        [HTTPField.Name("X-Pomerium-Jwt-Assertion")!: assertion]
    }

    /// How many assertions the NeoSC in `harness` verified in full (not found in its cache).
    static func verifications(_ harness: Harness) -> Int {
        let exposition = harness.portal.settings.metricsExposition?() ?? ""
        let line = exposition.split(separator: "\n").first { $0.hasPrefix(#"identity_verifications_total{source="pomerium_assertion"}"#) }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) } ?? 0
    }

    @Test("a verified assertion identifies the caller; roles from groups or Zitadel claims; verified once, then cached")
    func verifiedAssertion() async throws {
        let clock = ManualClock(Date())
        try await TestSigner.with { signer in
            try await Harness.run(.router, clock: clock.wallClock, Self.settings(signer: signer)) { harness, client in
                // Minted at the NeoSC clock's time: however long the machine took to get here, the
                // assertion's window is where the clock's advances below expect it.
                let assertion = Self.assertion(signer, issuedAt: clock.now)
                let me = try await client.send(.get, "/api/auth/me", headers: Self.headers(assertion))
                #expect(me.status == .ok, "\(me.text)")
                let paula = try me.decoded(UserBody.self)
                #expect(paula.email == "paula@example.com")
                #expect(paula.role == "neosc")
                let account = try #require(try await harness.store.user(email: "paula@example.com"))
                #expect(account.ssoProvider == "pomerium" && account.ssoSubject == "pomerium-user-1")

                for _ in 0..<5 {
                    let again = try await client.send(.get, "/api/workspaces", headers: Self.headers(assertion))
                    #expect(again.status == .ok)
                }
                #expect(signer.keySetFetches == 1)
                #expect(harness.portal.tokenCache.count == 1, "the repeated assertion is a cache lookup")
                #expect(Self.verifications(harness) == 1, "six requests, one verification")

                #expect(try await harness.store.events(AuditQuery(action: .ssoUserProvisioned)).count == 1)

                // Zitadel's role claim, when Pomerium forwards it, wins over groups.
                let admin = Self.assertion(
                    signer, subject: "pomerium-user-2", email: "zara@example.com", groups: ["user"],
                    extra: ["urn:zitadel:iam:org:project:roles": ["admin": ["org-1": "example.com"]]], issuedAt: clock.now)
                let zara = try await client.send(.get, "/api/auth/me", headers: Self.headers(admin))
                #expect(try zara.decoded(UserBody.self).role == "admin")

                let roleless = Self.assertion(
                    signer, subject: "pomerium-user-3", email: "rex@example.com", groups: ["staff"], issuedAt: clock.now)
                #expect(try await client.send(.get, "/api/auth/me", headers: Self.headers(roleless)).status == .forbidden)
                let verified = Self.verifications(harness)  // one each for the first, zara's and rex's
                #expect(verified == 3)
                // Within the cache's lifetime the assertion is served from it.
                clock.advance(4)
                #expect(try await client.send(.get, "/api/auth/me", headers: Self.headers(assertion)).status == .ok)
                #expect(Self.verifications(harness) == verified)
                // Past its `exp` the cache no longer answers for it: it is verified again (and
                // accepted within the verifier's 60 s clock-skew leeway), then refused.
                clock.advance(300)
                #expect(try await client.send(.get, "/api/auth/me", headers: Self.headers(assertion)).status == .ok)
                #expect(Self.verifications(harness) == verified + 1, "not served from the cache past its exp")
                clock.advance(60)
                #expect(try await client.send(.get, "/api/auth/me", headers: Self.headers(assertion)).status == .unauthorized)
                #expect(Self.verifications(harness) == verified + 2)
            }
        }
    }

    @Test("a Pomerium sign-in (a new sid) is audited once as sso_login and counted in logins_24h and the sign-in metric")
    func pomeriumSignInsAreCounted() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.router, Self.settings(signer: signer)) { harness, client in
                let first = ["sid": "pomerium-session-1"]
                // Three assertions of one Pomerium session (Pomerium signs a new one as they expire).
                for lifetime in [300.0, 301, 302] {
                    let assertion = Self.assertion(signer, groups: ["admin"], lifetime: lifetime, extra: first)
                    #expect(try await client.send(.get, "/api/auth/me", headers: Self.headers(assertion)).status == .ok)
                }
                var signIns = try await harness.store.events(AuditQuery(action: .ssoLogin))
                #expect(signIns.count == 1, "one session, one sign-in")
                #expect(signIns.first?.details["method"] == "pomerium")
                #expect(harness.metric(#"auth_sign_ins_total{method="pomerium"}"#) == 1)

                // A new session of the same person is a second sign-in. (Across processes the store
                // decides first sight: `NonceStore.redeem`, atomic on both stores.)
                let second = Self.assertion(signer, groups: ["admin"], extra: ["sid": "pomerium-session-2"])
                let stats = try await client.send(.get, "/api/stats", headers: Self.headers(second))
                #expect(stats.status == .ok, "\(stats.text)")
                signIns = try await harness.store.events(AuditQuery(action: .ssoLogin))
                #expect(signIns.count == 2)
                #expect(try stats.decoded(StatsBody.self).logins24h == 2, "sign-ins through Pomerium are logins")
            }
        }
    }

    @Test("amr as Pomerium forwards it, one comma-joined string: a second factor makes the session mfa_verified")
    func commaJoinedAuthenticationMethods() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.router, Self.settings(signer: signer)) { _, client in
                for (amr, expected) in [("pwd,mfa", true), ("pwd", false)] {
                    let assertion = Self.assertion(
                        signer, subject: "amr-\(amr)", email: "amr-\(expected)@example.com", extra: ["amr": amr])
                    let launched = try await client.send(
                        .post, "/api/workspaces/ws-linux-desktop/launch", headers: Self.headers(assertion))
                    #expect(launched.status == .created, "\(launched.text)")
                    #expect(try launched.decoded(LaunchBody.self).session.mfaVerified == expected, "amr \(amr)")
                    let me = try await client.send(.get, "/api/auth/me", headers: Self.headers(assertion))
                    #expect(try me.decoded(UserBody.self).mfaEnabled == expected, "an account of the provider alone: amr \(amr)")
                }
            }
        }
    }

    @Test("a network_required policy accepts the assertion's NetBird claim, named in its settings")
    func netbirdClaimOfTheAssertion() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.router, Self.settings(signer: signer)) { _, client in
                let policy: [String: Any] = [
                    "id": "pol-peer", "name": "Peer", "kind": "network_required", "settings": ["claim": "netbird_peer_id"],
                ]
                let administrator = Self.assertion(signer, subject: "adm", email: "adm@example.com", groups: ["admin"])
                let created = try await client.send(.post, "/api/policies", json: body(policy), headers: Self.headers(administrator))
                #expect(created.status == .created, "\(created.text)")
                let without = Self.assertion(signer, subject: "peerless", email: "peerless@example.com")
                #expect(
                    try await client.send(.post, "/api/workspaces/ws-sap-gui/launch", headers: Self.headers(without)).status
                        == .forbidden)
                let with = Self.assertion(signer, subject: "peered", email: "peered@example.com", extra: ["netbird_peer_id": "peer-7"])
                let launched = try await client.send(.post, "/api/workspaces/ws-sap-gui/launch", headers: Self.headers(with))
                #expect(launched.status == .created, "\(launched.text)")
            }
        }
    }

    @Test("logout behind Pomerium ends NeoSC's side and answers Pomerium's sign-out URL, so the browser ends that session too")
    func logoutNamesPomeriumsSignOut() async throws {
        try await TestSigner.with { signer in
            let settings: (inout Configuration) -> Void = { configuration in
                Self.settings(signer: signer)(&configuration)
                configuration.pomerium?.signOutURL = "https://authenticate.neosc.test/.pomerium/sign_out"
            }
            try await Harness.run(.router, settings) { _, client in
                let assertion = Self.assertion(signer)
                let launched = try await client.send(
                    .post, "/api/workspaces/ws-linux-desktop/launch", headers: Self.headers(assertion))
                #expect(launched.status == .created)
                let out = try await client.send(.post, "/api/auth/logout", headers: Self.headers(assertion))
                #expect(out.status == .ok, "\(out.text)")
                #expect(out["signout_url"] as? String == "https://authenticate.neosc.test/.pomerium/sign_out")
                #expect(out["sessions_terminated"] as? Int == 1)
            }
        }
        // The default comes from POMERIUM_AUTHENTICATE_URL; local mode answers none.
        let configured = try Configuration(environment: [
            "NEOSC_AUTH_MODE": "pomerium", "POMERIUM_AUDIENCE": "api.example.com",
            "POMERIUM_AUTHENTICATE_URL": "https://authenticate.example.com/",
        ])
        #expect(configured.pomerium?.signOutURL == "https://authenticate.example.com/.pomerium/sign_out")
        try await Harness.run { harness, client in
            let token = try await harness.account(.user).token
            let out = try await client.send(.post, "/api/auth/logout", token: token)
            #expect(out.status == .ok && out["signout_url"] == nil, "\(out.text)")
        }
    }

    @Test("a change a browser sends for another site's page is a 403 before anything is done, audited; reads and non-browsers pass")
    func crossSiteChangesAreRefused() async throws {
        try await TestSigner.with { signer in
            let settings = Self.settings(signer: signer)
            try await Harness.run(.router) { configuration in
                settings(&configuration)
                configuration.publicURL = "https://portal.example.com"
                configuration.corsOrigins = ["https://app.example.com"]
            } _: { harness, client in
                let assertion = Self.assertion(signer, groups: ["neosc"])
                func launch(_ fields: [String: String]) async throws -> Reply {
                    var headers = Self.headers(assertion)
                    for (name, value) in fields { headers[HTTPField.Name(name)!] = value }
                    return try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", headers: headers)
                }
                let refused: [[String: String]] = [
                    ["Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"],
                    ["Sec-Fetch-Site": "cross-site"],
                    ["Sec-Fetch-Site": "same-site", "Origin": "https://workspaces.example.com"],
                    // A browser that does not send Sec-Fetch-Site: its Origin is not this host.
                    ["Origin": "https://evil.example"],
                    ["Origin": "null"],
                ]
                for fields in refused {
                    let reply = try await launch(fields)
                    #expect(reply.status == .forbidden, "\(fields): \(reply.text)")
                    #expect(reply.detail?.contains("another site's page") == true, "\(reply.text)")
                }
                #expect(try await harness.store.events(AuditQuery(action: .launchWorkspace)).isEmpty, "nothing was launched")
                let denied = try await harness.store.events(AuditQuery(action: .accessDenied))
                #expect(denied.count == 1, "one audit entry a minute per address, however many refusals")
                #expect(denied.first?.details["reason"] == "sec_fetch_site_cross_site")
                #expect(denied.first?.details["origin"] == "https://evil.example")
                #expect(harness.metric(#"auth_failures_total{reason="cross_site_request"}"#) == refused.count)

                // A read from anywhere, and changes from the portal's own pages, a listed origin,
                // the person themselves, or no browser at all, go through.
                var headers = Self.headers(assertion)
                headers[HTTPField.Name("Sec-Fetch-Site")!] = "cross-site"
                #expect(try await client.send(.get, "/api/workspaces", headers: headers).status == .ok)
                let allowed: [[String: String]] = [
                    ["Sec-Fetch-Site": "same-origin", "Origin": "https://portal.example.com"],
                    ["Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com"],
                    ["Sec-Fetch-Site": "none"],
                    ["Origin": "https://portal.example.com"],
                    ["Origin": "http://localhost"],  // the Host it was sent to
                    [:],
                ]
                for fields in allowed {
                    let reply = try await launch(fields)
                    #expect(reply.status == .created, "\(fields): \(reply.text)")
                    let stopped = try await client.send(.post, "/api/workspaces/ws-linux-desktop/stop", headers: Self.headers(assertion))
                    #expect(stopped.status == .ok, "\(stopped.text)")
                }
            }
        }
    }

    @Test("no assertion, a NeoSC bearer token, or a forged assertion: 401, and forgeries are audited")
    func rejections() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.router, Self.settings(signer: signer)) { harness, client in
                // Health stays open for probes; it is healthy once Pomerium's keys have been fetched
                // (the first probe starts that).
                #expect(try await eventually { try await client.send(.get, "/health").status == .ok })
                let missing = try await client.send(.get, "/api/workspaces")
                #expect(missing.status == .unauthorized)
                #expect(missing.detail?.contains("Pomerium") == true)

                let local = try await harness.account(.admin)
                #expect(
                    try await client.send(.get, "/api/auth/me", token: local.token).status == .unauthorized,
                    "behind Pomerium a bearer token alone is not enough")

                let forgeries: [(String, String)] = [
                    ("wrong_audience", Self.assertion(signer, extra: ["aud": "other-route.test"])),
                    ("wrong_issuer", Self.assertion(signer, extra: ["iss": "evil.test"])),
                    ("expired", Self.assertion(signer, lifetime: -120)),
                    ("unsupported_algorithm", signer.unsignedToken(signer.claims(subject: "x", audience: Self.route, extra: ["iss": Self.route]))),
                    ("malformed_token", "garbage"),
                ]
                for (reason, assertion) in forgeries {
                    let refused = try await client.send(.get, "/api/auth/me", headers: Self.headers(assertion))
                    #expect(refused.status == .unauthorized, "\(reason)")
                }
                let audited = try await harness.store.events(AuditQuery(action: .pomeriumAssertionRejected))
                #expect(audited.compactMap { $0.details["reason"] }.sorted() == forgeries.map(\.0).sorted())
                let rejectedBefore = audited.count

                // A demo-bound assertion past its demo end is refused though the assertion is fresh.
                let demo = Self.assertion(
                    signer, subject: "visitor", email: "visitor@example.com", groups: ["demo-user"],
                    extra: ["neosc:demo_session_id": "demo-9", "neosc:demo_expires_at": Int(Date().timeIntervalSince1970) - 1])
                let over = try await client.send(.get, "/api/auth/me", headers: Self.headers(demo))
                #expect(over.status == .unauthorized)
                #expect(over.detail == "Demo session has expired")

                // The demo-user role without the demo claims is refused: it would never expire.
                let unbound = Self.assertion(signer, subject: "visitor-2", email: "visitor2@example.com", groups: ["demo-user"])
                #expect(try await client.send(.get, "/api/auth/me", headers: Self.headers(unbound)).status == .forbidden)
                let audits = try await harness.store.events(AuditQuery(action: .pomeriumAssertionRejected)).count
                #expect(audits == rejectedBefore + 2, "both refusals are audited")
            }
        }
    }

    @Test("the API index, health and metrics answer without an assertion; everything else under /api needs one")
    func openRoutes() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.live, Self.settings(signer: signer)) { _, client in
                // /health is healthy once Pomerium's keys have been fetched (the first probe starts it).
                #expect(try await eventually { try await client.send(.get, "/health").status == .ok })
                for path in ["/api", "/api/", "/health", "/metrics"] {
                    let open = try await client.send(.get, path)
                    #expect(open.status == .ok, "\(path) → \(open.status.code) \(open.text.prefix(200))")
                }
                let gated: [(HTTPRequest.Method, String)] = [
                    (.get, "/api/auth/me"), (.get, "/api/workspaces"), (.get, "/api/stats"), (.post, "/api/auth/login"),
                ]
                for (method, path) in gated {
                    #expect(try await client.send(method, path, json: "{}").status == .unauthorized, "\(method) \(path)")
                }
            }
        }
    }

    @Test("/health says degraded while Pomerium's keys have never been fetched, and healthy once they are")
    func healthWithoutKeys() async throws {
        let unreachable = try FreePort.pick()
        let settings: (inout Configuration) -> Void = { configuration in
            configuration.authMode = .pomerium
            configuration.pomerium = PomeriumSettings(
                jwksURL: "http://127.0.0.1:\(unreachable)/.well-known/pomerium/jwks.json", audiences: [Self.route])
            configuration.keyRefreshInterval = 1
        }
        try await Harness.run(.router, settings) { _, client in
            let health = try await client.send(.get, "/health")
            #expect(health.status == .serviceUnavailable)
            #expect(health["status"] as? String == "degraded")
            #expect((health["detail"] as? String)?.contains("Pomerium's signing keys") == true, "\(health.text)")
        }
        try await TestSigner.with { signer in
            try await Harness.run(.router, Self.settings(signer: signer)) { _, client in
                // Answered at once: the first probe starts the fetch, a later one sees the keys.
                let healthy = try await eventually { try await client.send(.get, "/health").status == .ok }
                #expect(healthy)
                #expect(signer.keySetFetches == 1)
            }
        }
    }

    @Test("an assertion with Pomerium's URI spelling of the route (jwt_issuer_format: uri) is accepted")
    func uriIssuer() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.router, Self.settings(signer: signer)) { _, client in
                let uri = "https://\(Self.route)/"
                let assertion = Self.assertion(signer, subject: "uri-user", email: "uri@example.com", extra: ["iss": uri, "aud": uri])
                let me = try await client.send(.get, "/api/auth/me", headers: Self.headers(assertion))
                #expect(me.status == .ok, "\(me.text)")
                #expect(try me.decoded(UserBody.self).email == "uri@example.com")
                let elsewhere = Self.assertion(
                    signer, subject: "uri-user", email: "uri@example.com", extra: ["iss": "https://other.test/", "aud": uri])
                #expect(try await client.send(.get, "/api/auth/me", headers: Self.headers(elsewhere)).status == .unauthorized)
            }
        }
    }

    @Test("key rotation is picked up without a restart; the retired key is refused")
    func rotation() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.router, Self.settings(signer: signer)) { harness, client in
                let oldKey = signer.currentKey
                #expect(try await client.send(.get, "/api/auth/me", headers: Self.headers(Self.assertion(signer))).status == .ok)

                signer.rotate()
                try await Task.sleep(for: .milliseconds(1_100))  // past NEOSC_JWKS_MIN_REFRESH
                let rotated = Self.assertion(signer, subject: "pomerium-user-9", email: "nina@example.com")
                let accepted = try await client.send(.get, "/api/auth/me", headers: Self.headers(rotated))
                #expect(accepted.status == .ok, "\(accepted.text)")
                #expect(signer.keySetFetches == 2)

                let retired = Self.assertion(signer, subject: "pomerium-user-10", email: "otto@example.com", key: oldKey)
                let refused = try await client.send(.get, "/api/auth/me", headers: Self.headers(retired))
                #expect(refused.status == .unauthorized)
                // Unknown kids do not make NeoSC hammer the JWKS: at most one fetch per interval
                // (NEOSC_JWKS_MIN_REFRESH, 1 s here), however many tokens name one.
                let fetchesBefore = signer.keySetFetches
                let started = Date()
                for _ in 0..<20 {
                    _ = try await client.send(.get, "/api/auth/me", headers: Self.headers(retired))
                }
                let elapsed = Date().timeIntervalSince(started)
                let fetches = signer.keySetFetches - fetchesBefore
                #expect(fetches <= 1 + Int(elapsed.rounded(.up)) && fetches < 20, "\(fetches) fetches in \(elapsed) s")
                let reasons = try await harness.store.events(AuditQuery(action: .pomeriumAssertionRejected))
                    .compactMap { $0.details["reason"] }
                #expect(Set(reasons) == ["unknown_kid"])
            }
        }
    }

    @Test("plain X-Pomerium-* headers: ignored and audited from an untrusted peer")
    func spoofedHeaders() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.router, Self.settings(signer: signer, trustHeadersFrom: "10.0.0.0/8")) { harness, client in
                let spoof: HTTPFields = [
                    HTTPField.Name("X-Pomerium-Email")!: "admin@example.com",
                    HTTPField.Name("X-Pomerium-Groups")!: "admin",
                ]
                let refused = try await client.send(.get, "/api/users", headers: spoof)
                #expect(refused.status == .unauthorized)
                let audited = try await harness.store.events(AuditQuery(action: .pomeriumHeaderSpoof))
                #expect(audited.count == 1)
                #expect(audited.first?.userEmail == "admin@example.com")
                #expect(try await harness.store.user(email: "admin@example.com") == nil)
            }
        }
    }

    @Test("plain X-Pomerium-* headers: believed from a trusted proxy when TRUST_POMERIUM_HEADERS is on")
    func trustedHeaders() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.live, Self.settings(signer: signer, trustHeadersFrom: "127.0.0.1/32")) { harness, client in
                let headers: HTTPFields = [
                    HTTPField.Name("X-Pomerium-Email")!: "hugo@example.com",
                    HTTPField.Name("X-Pomerium-User")!: "pomerium-hugo",
                    HTTPField.Name("X-Pomerium-Groups")!: "staff,user",
                ]
                let me = try await client.send(.get, "/api/auth/me", headers: headers)
                #expect(me.status == .ok, "\(me.text)")
                #expect(try me.decoded(UserBody.self).role == "user")
                #expect(try await harness.store.events(AuditQuery(action: .pomeriumHeaderSpoof)).isEmpty)
            }
        }
    }
}
