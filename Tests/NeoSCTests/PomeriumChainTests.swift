import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Integrations
import Services
import TestSupport
import Testing

@testable import App

/// NeoSC behind Pomerium v0.31 as it really behaves (issue #19): people sign in at an OpenID
/// provider with Zitadel-shaped claims (`oidc-provider-mock`), and `PomeriumPeer` turns what it
/// got into the assertion Pomerium would sign for a route of `infra/pomerium/config.yaml`:
/// nested claims flattened away, only the standard claims and the configured scalar ones, every
/// forwarded value a string.
@Suite("Behind Pomerium v0.31")
struct PomeriumChainTests {
    static let host = "api.neosc.test"

    static func settings(_ peer: PomeriumPeer) -> (inout Configuration) -> Void {
        { configuration in
            configuration.authMode = .pomerium
            configuration.pomerium = PomeriumSettings(jwksURL: peer.signer.jwksURL, audiences: [host])
            configuration.keyRefreshInterval = 1
        }
    }

    static func headers(_ assertion: String) -> HTTPFields {
        [HTTPField.Name("X-Pomerium-Jwt-Assertion")!: assertion]
    }

    @Test("Go's fmt.Sprint of a float64, as Pomerium writes numeric claims")
    func goNumbers() {
        let cases: [(Double, String)] = [
            (1_767_225_600, "1.7672256e+09"), (1_800, "1800"), (123_456, "123456"), (1_234_567, "1.234567e+06"),
            (1_000_000, "1e+06"), (0.5, "0.5"), (0.0001, "0.0001"), (0.00001, "1e-05"), (-42, "-42"), (0, "0"),
            (1_767_225_601, "1.767225601e+09"),
        ]
        for (number, go) in cases { #expect(PomeriumPeer.goSprint(number) == go, "\(number)") }
    }

    @Test("the shipped configuration asks for a refresh token and forwards what NeoSC reads, by names that survive flattening")
    func shippedConfiguration() throws {
        let configuration = try PomeriumPeer.ShippedConfiguration.read()
        #expect(configuration.scopes?.contains("offline_access") == true)
        #expect(configuration.scopes?.allSatisfy { !$0.contains(":") } == true, "scopes, not claim names")
        let claims = Set(configuration.claimHeaders.map(\.claim))
        for needed in ["email_verified", "amr", "neosc:demo_session_id", "neosc:demo_expires_at", "neosc:workspace_type"] {
            #expect(claims.contains(needed), "forwards \(needed)")
        }
        #expect(!claims.contains { $0.hasPrefix("urn:zitadel:iam:org:project") }, "a nested claim never arrives")
        #expect(configuration.issuerFormat == "uri")
    }

    @Test("roles arrive only through the flat groups claim; email_verified and amr arrive as strings and count")
    func rolesThroughGroups() async throws {
        let mock = try await OIDCMock.shared()
        try await TestSigner.with { signer in
            let peer = PomeriumPeer(signer: signer)
            try await Harness.run(.router, Self.settings(peer)) { harness, client in
                // With the Action's groups: an administrator, MFA seen in the comma-joined amr.
                let pia = try await peer.signIn(at: mock.issuer) { try await mock.approve($0, as: "zitadel-pia") }
                let payload = peer.payload(host: Self.host, claims: pia, sessionID: "s-pia")
                #expect(payload["email_verified"] as? String == "true")
                #expect(payload["amr"] as? String == "pwd,mfa")
                #expect(payload["groups"] as? [String] == ["admin"])
                #expect(!payload.keys.contains { $0.hasPrefix("urn:zitadel") }, "the role map is flattened away")
                let me = try await client.send(.get, "/api/auth/me", headers: Self.headers(peer.assertion(host: Self.host, claims: pia)))
                #expect(me.status == .ok, "\(me.text)")
                let user = try me.decoded(UserBody.self)
                #expect(user.role == "admin")
                let stored = try #require(try await harness.store.user(email: "pia@example.com"))
                #expect(stored.ssoProvider == "pomerium")

                // Without it (no Action configured): the nested roles never reach NeoSC.
                let nils = try await peer.signIn(at: mock.issuer) { try await mock.approve($0, as: "zitadel-nils") }
                let refused = try await client.send(
                    .get, "/api/auth/me", headers: Self.headers(peer.assertion(host: Self.host, claims: nils)))
                #expect(refused.status == .forbidden, "\(refused.text)")
            }
        }
    }

    @Test("the first administrator: a verified Pomerium identity with the bootstrap address is that account")
    func bootstrapAdministrator() async throws {
        let mock = try await OIDCMock.shared()
        try await TestSigner.with { signer in
            let peer = PomeriumPeer(signer: signer)
            try await Harness.run(.router, Self.settings(peer)) { harness, client in
                let bootstrap = try await harness.account(.admin, email: "root@example.com").user
                let root = try await peer.signIn(at: mock.issuer) { try await mock.approve($0, as: "zitadel-root") }
                let me = try await client.send(.get, "/api/auth/me", headers: Self.headers(peer.assertion(host: Self.host, claims: root)))
                #expect(me.status == .ok, "\(me.text)")
                let user = try me.decoded(UserBody.self)
                #expect(user.id == bootstrap.id, "linked, not a second account")
                #expect(user.role == "admin")
            }
        }
    }

    @Test("demo claims forwarded as Pomerium's strings, a numeric deadline in Go's notation included")
    func demoClaimsAsStrings() async throws {
        try await TestSigner.with { signer in
            let peer = PomeriumPeer(signer: signer)
            let settings: (inout Configuration) -> Void = { configuration in
                Self.settings(peer)(&configuration)
                configuration.demo.enabled = true
            }
            try await Harness.run(.router, settings) { harness, client in
                let started = try await client.send(
                    .post, "/api/demo/sessions", json: body(["workspace_type": "browser", "email": "numeric@example.com"]))
                #expect(started.status == .created, "\(started.text)")
                let demo = try started.decoded(DemoCreatedBody.self)
                let stored = try #require(try await harness.store.demo(id: demo.demoSessionID))
                // An Action that answers the deadline as a number: Pomerium forwards fmt.Sprint of it.
                let claims: [String: PomeriumPeer.Value] = [
                    "sub": .string("zitadel-numeric"), "email": .string("numeric@example.com"), "email_verified": .bool(true),
                    "groups": .list([.string("demo-user")]), "neosc:demo_session_id": .string(demo.demoSessionID),
                    "neosc:demo_expires_at": .number(stored.expiresAt.timeIntervalSince1970.rounded(.down)),
                    "neosc:workspace_type": .string("browser"), "neosc:max_duration": .number(7_200),
                ]
                let payload = peer.payload(host: Self.host, claims: claims, sessionID: "s-numeric")
                #expect((payload["neosc:demo_expires_at"] as? String)?.contains("e+09") == true)
                let mine = try await client.send(
                    .get, "/api/demo/sessions", headers: Self.headers(peer.assertion(host: Self.host, claims: claims)))
                #expect(mine.status == .ok, "\(mine.text)")
                #expect(try mine.decoded([DemoBody].self).map(\.id) == [demo.demoSessionID])
            }
        }
    }
}
