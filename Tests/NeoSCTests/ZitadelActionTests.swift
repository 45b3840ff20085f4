import Crypto
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Integrations
import Services
import Testing

@testable import App

/// NeoSC as the target of a Zitadel Actions v2 function (issue #15, the demo chain): Zitadel calls
/// it while issuing a token, signed with the target's key, and appends the claims it answers.
/// `ZitadelCaller` builds the call as Zitadel does (`docs/guides/integrate/actions/usage.md`,
/// `pkg/actions/signing.go`); the signature is computed here, independently of NeoSC's code.
@Suite("Zitadel Actions target")
struct ZitadelActionTests {
    static let key = "a-zitadel-target-signing-key-0123456789"
    static let project = "project-neosc"
    static let path = "/api/integrations/zitadel/token-claims"

    struct ZitadelCaller {
        var key = ZitadelActionTests.key

        /// A `preaccesstoken` call for a user with `email` holding `grants` (project → roles),
        /// whose Zitadel account was created at `created`.
        static func call(
            email: String, verified: Bool, grants: [(project: String, roles: [String])], created: Date = Date()
        ) -> String {
            body([
                "function": "function/preaccesstoken",
                "userinfo": ["email": email, "email_verified": verified, "preferred_username": email],
                "user": [
                    "id": "312345678901234567", "creation_date": ISO8601DateFormatter().string(from: created),
                    "human": ["email": email, "is_email_verified": verified],
                ],
                "org": ["id": "org-1", "name": "Example", "primary_domain": "example.com"],
                "user_grants": grants.map { ["id": UUID().uuidString, "projectId": $0.project, "roles": $0.roles, "state": 1] },
            ])
        }

        /// `ZITADEL-Signature: t=<unix>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>`.
        func signature(for body: String, at time: Date = Date()) -> String {
            let seconds = Int(time.timeIntervalSince1970)
            let code = HMAC<SHA256>.authenticationCode(
                for: Data("\(seconds).\(body)".utf8), using: SymmetricKey(data: Data(key.utf8)))
            return "t=\(seconds),v1=" + code.map { String(format: "%02x", $0) }.joined()
        }

        func send(_ client: some TestClientProtocol, _ body: String, signature: String? = nil) async throws -> Reply {
            var headers: HTTPFields = [:]
            headers[HTTPField.Name("ZITADEL-Signature")!] = signature ?? self.signature(for: body)
            return try await client.send(.post, ZitadelActionTests.path, json: body, headers: headers)
        }
    }

    /// The appended claims as a dictionary (key → value).
    static func claims(_ reply: Reply) throws -> [String: Any] {
        let list = try #require(reply["append_claims"] as? [[String: Any]], "\(reply.text)")
        return Dictionary(uniqueKeysWithValues: list.compactMap { entry in (entry["key"] as? String).map { ($0, entry["value"] ?? NSNull()) } })
    }

    static func settings(_ configuration: inout Configuration) {
        configuration.demo.enabled = true
        configuration.zitadelActionsSigningKey = Secret(key)
        configuration.zitadelProjectID = project
        configuration.oidc = OIDCSettings(issuer: "https://zitadel.test", clientID: "neosc-portal", projectID: project)
    }

    @Test("only a call Zitadel signed with the target's key is answered")
    func unsignedOrStaleCallsAreRefused() async throws {
        try await Harness.run(.router, Self.settings) { _, client in
            let caller = ZitadelCaller()
            let body = ZitadelCaller.call(email: "ann@example.com", verified: true, grants: [(Self.project, ["neosc"])])
            #expect(try await caller.send(client, body).status == .ok)
            let refused = [
                "", "t=abc,v1=00", "v1=" + String(repeating: "0", count: 64),
                ZitadelCaller(key: "another-key-another-key-another").signature(for: body),
                caller.signature(for: body, at: Date().addingTimeInterval(-600)),  // older than Zitadel's 300 s
                caller.signature(for: body + " "),  // another body
            ]
            for signature in refused {
                let reply = try await caller.send(client, body, signature: signature)
                #expect(reply.status == .unauthorized, "'\(signature)': \(reply.text)")
            }
        }
        // Without a configured key there is no such route.
        try await Harness.run { _, client in
            let call = ZitadelCaller.call(email: "ann@example.com", verified: true, grants: [])
            let reply = try await ZitadelCaller().send(client, call)
            #expect(reply.status == .notFound)
        }
    }

    @Test("groups: the NeoSC roles of the grants on NeoSC's project, as one flat claim")
    func rolesBecomeAFlatGroupsClaim() async throws {
        try await Harness.run(.router, Self.settings) { _, client in
            let body = ZitadelCaller.call(
                email: "ann@example.com", verified: true,
                grants: [(Self.project, ["admin", "reporting"]), ("project-other", ["neosc"])])
            let claims = try Self.claims(try await ZitadelCaller().send(client, body))
            #expect(claims["groups"] as? [String] == ["admin"], "another project's roles and unknown roles are left out")
            #expect(claims["neosc:demo_session_id"] == nil)
            // A signed call that names its grants twice is read by no one: JSONSerialization kept
            // the last, another reader of the same call the first.
            let twice = String(body.dropLast()) + #","user_grants":[]}"#
            let refused = try await ZitadelCaller().send(client, twice)
            #expect(refused.status == .badRequest, "\(refused.text)")
            #expect(refused.detail == "Request body is not valid JSON: an object names 'user_grants' twice")
        }
    }

    @Test("the contact of an active demo gets its claims, through a verified address only, until the demo ends")
    func aDemoContactGetsTheDemoClaims() async throws {
        try await Harness.run(.router, Self.settings) { harness, client in
            let started = try await client.send(
                .post, "/api/demo/sessions", json: body(["workspace_type": "browser", "email": "Visitor@Example.com"]))
            #expect(started.status == .created, "\(started.text)")
            let demo = try started.decoded(DemoCreatedBody.self)

            let caller = ZitadelCaller()
            let verified = try Self.claims(
                try await caller.send(client, ZitadelCaller.call(email: "visitor@example.com", verified: true, grants: [])))
            #expect(verified["groups"] as? [String] == ["demo-user"])
            #expect(verified["neosc:demo_session_id"] as? String == demo.demoSessionID)
            #expect(verified["neosc:workspace_type"] as? String == "browser")
            let expires = try #require(verified["neosc:demo_expires_at"] as? String)
            let expiry = try Date(expires, strategy: .iso8601)
            #expect(abs(expiry.timeIntervalSince(demo.expiresAt)) < 1)
            #expect(verified["neosc:max_duration"] as? String == "7200s")

            // Anyone can type someone else's address into the demo form: unverified, no demo.
            let unverified = try Self.claims(
                try await caller.send(client, ZitadelCaller.call(email: "visitor@example.com", verified: false, grants: [])))
            #expect(unverified["neosc:demo_session_id"] == nil && unverified["groups"] as? [String] == [])

            // Someone typed another person's address into the demo form: an account that existed
            // before the demo, or that holds another role (an administrator's), is never bound.
            for (created, grants) in [
                (Date().addingTimeInterval(-86_400), [(project: String, roles: [String])]()),
                (Date(), [(project: Self.project, roles: ["admin"])]),
            ] {
                let call = ZitadelCaller.call(email: "visitor@example.com", verified: true, grants: grants, created: created)
                let refused = try Self.claims(try await caller.send(client, call))
                #expect(refused["neosc:demo_session_id"] == nil, "created \(created), grants \(grants.map(\.roles))")
            }

            // Ended: no more demo claims.
            let admin = try await harness.account(.admin).token
            #expect(try await client.send(.delete, "/api/demo/sessions/\(demo.demoSessionID)", token: admin).status == .ok)
            let ended = try Self.claims(
                try await caller.send(client, ZitadelCaller.call(email: "visitor@example.com", verified: true, grants: [])))
            #expect(ended["neosc:demo_session_id"] == nil)
        }
    }

    @Test("behind Pomerium: a visitor starts a demo without signing in, and the claims Zitadel adds bind their sign-in to it")
    func theDemoChainBehindPomerium() async throws {
        try await TestSigner.with { signer in
            let settings: (inout Configuration) -> Void = { configuration in
                Self.settings(&configuration)
                configuration.authMode = .pomerium
                configuration.pomerium = PomeriumSettings(jwksURL: signer.jwksURL, audiences: ["demo.neosc.test"])
            }
            try await Harness.run(.router, settings) { _, client in
                // The public demo route: no assertion needed to start one.
                let started = try await client.send(
                    .post, "/api/demo/sessions", json: body(["workspace_type": "browser", "email": "visitor@example.com"]))
                #expect(started.status == .created, "\(started.text)")
                let demo = try started.decoded(DemoCreatedBody.self)
                // Everything else still needs one.
                #expect(try await client.send(.get, "/api/workspaces").status == .unauthorized)

                // The visitor signs in at Zitadel; Zitadel asks NeoSC for claims and issues them;
                // Pomerium (v0.31, PomeriumPeer) forwards them in its signed assertion.
                let claims = try Self.claims(
                    try await ZitadelCaller().send(client, ZitadelCaller.call(email: "visitor@example.com", verified: true, grants: [])))
                var token: [String: PomeriumPeer.Value] = [
                    "sub": .string("zitadel-visitor"), "email": .string("visitor@example.com"), "email_verified": .bool(true),
                ]
                for (key, value) in claims {
                    if let text = value as? String { token[key] = .string(text) }
                    if let texts = value as? [String] { token[key] = .list(texts.map(PomeriumPeer.Value.string)) }
                }
                let assertion = PomeriumPeer(signer: signer).assertion(host: "demo.neosc.test", claims: token)
                let headers: HTTPFields = [HTTPField.Name("X-Pomerium-Jwt-Assertion")!: assertion]
                let me = try await client.send(.get, "/api/auth/me", headers: headers)
                #expect(me.status == .ok, "\(me.text)")
                #expect(try me.decoded(UserBody.self).role == "demo-user")
                let mine = try await client.send(.get, "/api/demo/sessions", headers: headers).decoded([DemoBody].self)
                #expect(mine.map(\.id) == [demo.demoSessionID], "signed in as that demo's visitor")
            }
        }
    }
}
