import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Net
import Services
import Testing

@testable import App

/// Changing and resetting passwords: through the API, and by an operator at the command line.
@Suite("Passwords: change, administrator reset, reset from the command line")
struct PasswordTests {
    static func login(_ client: some TestClientProtocol, _ email: String, _ password: String) async throws -> Reply {
        try await client.send(.post, "/api/auth/login", json: body(["email": email, "password": password]))
    }

    @Test("a signed-in change needs the current password, revokes every other token, keeps the one in use, and is audited")
    func signedInChange() async throws {
        try await Harness.run { harness, client in
            let registered = try await client.send(
                .post, "/api/auth/register", json: body(["email": "pat@example.com", "password": Harness.password, "name": "Pat"]))
            let here = try registered.decoded(SignedInBody.self).accessToken
            let elsewhere = try await Self.login(client, "pat@example.com", Harness.password).decoded(SignedInBody.self).accessToken
            func change(_ fields: [String: Any], token: String? = here) async throws -> Reply {
                try await client.send(.post, "/api/auth/password", token: token, json: body(fields))
            }

            let wrong = try await change(["current_password": "not the password", "new_password": "a brand new password"])
            #expect(wrong.status == .unprocessableContent, "\(wrong.text)")
            #expect(try wrong.decoded(ErrorBody.self).detail.contains("current_password"))
            let same = try await change(["current_password": Harness.password, "new_password": Harness.password])
            #expect(same.status == .unprocessableContent)
            let short = try await change(["current_password": Harness.password, "new_password": "short"])
            #expect(short.status == .unprocessableContent)
            #expect(try await client.send(.get, "/api/auth/me", token: elsewhere).status == .ok, "refused changes revoke nothing")

            let changed = try await change(["current_password": Harness.password, "new_password": "a brand new password"])
            #expect(changed.status == .ok, "\(changed.text)")
            #expect(try changed.decoded(PasswordChangedBody.self).tokensRevoked == 1)
            #expect(try await client.send(.get, "/api/auth/me", token: here).status == .ok, "the token in use stays")
            #expect(try await client.send(.get, "/api/auth/me", token: elsewhere).status == .unauthorized, "every other one ends")
            #expect(try await Self.login(client, "pat@example.com", Harness.password).status == .unauthorized)
            #expect(try await Self.login(client, "pat@example.com", "a brand new password").status == .ok)

            let audited = try await harness.store.events(AuditQuery(action: .passwordChanged, limit: 10))
            #expect(audited.filter(\.success).count == 1 && audited.filter { !$0.success }.count == 1)
            #expect(audited.first { $0.success }?.details["tokens_revoked"] == "1")
            #expect(audited.first { $0.success }?.details["sessions_terminated"] == "0")
        }
    }

    @Test("a demo visitor has no password to change, nor to be given by an administrator: 409, saying so (not a provider's reason)")
    func demoVisitorsHaveNoPassword() async throws {
        try await Harness.run(.router, { $0.demo.enabled = true }) { harness, client in
            let demo = try await client.send(.post, "/api/demo/sessions", json: body(["workspace_type": "browser"]))
            #expect(demo.status == .created, "\(demo.text)")
            let token = try demo.decoded(DemoCreatedBody.self).accessToken
            let refused = try await client.send(
                .post, "/api/auth/password", token: token,
                json: body(["current_password": "anything at all", "new_password": "a brand new password"]))
            #expect(refused.status == .conflict, "\(refused.text)")
            #expect(refused.detail == "A demo visitor's account has no password: it lasts as long as its demo")
            // Nor does an administrator give it one: the password would outlive the demo's token.
            let visitor = try #require(try await client.send(.get, "/api/auth/me", token: token)["id"] as? String)
            let admin = try await harness.account(.admin).token
            let reset = try await client.send(.post, "/api/users/\(visitor)/password-reset", token: admin)
            #expect(reset.status == .conflict && reset.detail == refused.detail, "\(reset.text)")
            #expect(try await harness.store.events(AuditQuery(action: .passwordReset)).isEmpty)
            #expect(try await client.send(.get, "/api/auth/me", token: token).status == .ok, "the demo goes on")
        }
    }

    @Test("wrong current passwords count like failed logins: the eleventh attempt is throttled")
    func wrongCurrentPasswordsAreThrottled() async throws {
        try await Harness.run { harness, client in
            let token = try await harness.account(.user, email: "quinn@example.com").token
            // An oversize current password is bad input (422 naming it), not a guess: it counts
            // toward nothing, however often it is sent.
            for _ in 0..<12 {
                let oversize = try await client.send(
                    .post, "/api/auth/password", token: token,
                    json: body(["current_password": String(repeating: "x", count: 513), "new_password": "whatever it is"]))
                #expect(oversize.status == .unprocessableContent)
                #expect(oversize.detail == "current_password is too long")
            }
            for _ in 0..<10 {
                let reply = try await client.send(
                    .post, "/api/auth/password", token: token,
                    json: body(["current_password": "guess guess", "new_password": "whatever it is"]))
                #expect(reply.status == .unprocessableContent)
            }
            let throttled = try await client.send(
                .post, "/api/auth/password", token: token,
                json: body(["current_password": Harness.password, "new_password": "whatever it is"]))
            #expect(throttled.status == .tooManyRequests)
        }
    }

    @Test("an administrator's reset: every token revoked, a one-time password that must be changed before signing in, audited")
    func administratorReset() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            let (bob, bobToken) = try await harness.account(.neosc, email: "bob@example.com")
            let other = try await harness.account(.user).token
            #expect(try await client.send(.post, "/api/users/\(bob.id)/password-reset", token: other).status == .forbidden)
            #expect(try await client.send(.post, "/api/users/usr-nobody/password-reset", token: admin).status == .notFound)

            let launched = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: bobToken)
            #expect(launched.status == .created, "\(launched.text)")
            let session = try launched.decoded(LaunchBody.self).sessionID

            let reset = try await client.send(.post, "/api/users/\(bob.id)/password-reset", token: admin)
            #expect(reset.status == .ok, "\(reset.text)")
            // Whoever held the old password may be in a workspace with it: that session ends.
            let ended = try await client.send(.get, "/api/sessions/\(session)", token: admin).decoded(SessionBody.self)
            #expect(ended.status == "terminated" && ended.endReason == "password_reset")
            let audited = try await harness.store.events(AuditQuery(action: .passwordReset)).first
            #expect(audited?.details["sessions_terminated"] == "1" && audited?.details["tokens_revoked"] == "1")
            let temporary = try reset.decoded(ResetBody.self).temporaryPassword
            #expect(temporary.count >= 16)
            #expect(try await client.send(.get, "/api/auth/me", token: bobToken).status == .unauthorized, "signed out everywhere")
            let listed = try await client.send(.get, "/api/users", token: admin).decoded([UserBody].self)
            #expect(listed.first { $0.id == bob.id }?.mustChangePassword == true)

            // The one-time password proves who it is but signs nobody in…
            let blocked = try await Self.login(client, "bob@example.com", temporary)
            #expect(blocked.status == .forbidden, "\(blocked.text)")
            #expect(try blocked.decoded(ErrorBody.self).detail.contains("Password change required"))
            #expect(blocked["access_token"] == nil)
            // …until a new password is chosen with it, which signs in.
            let chosen = try await client.send(
                .post, "/api/auth/password",
                json: body(["email": "bob@example.com", "current_password": temporary, "new_password": "bob's own password"]))
            #expect(chosen.status == .ok, "\(chosen.text)")
            let signedIn = try chosen.decoded(SignedInBody.self)
            #expect(signedIn.user.mustChangePassword == false)
            #expect(try await client.send(.get, "/api/auth/me", token: signedIn.accessToken).status == .ok)
            #expect(try await Self.login(client, "bob@example.com", temporary).status == .unauthorized, "the one-time password is gone")
            #expect(try await Self.login(client, "bob@example.com", "bob's own password").status == .ok)

            #expect(try await harness.store.events(AuditQuery(action: .passwordReset)).count == 1)
            #expect(try await harness.store.events(AuditQuery(action: .passwordChanged)).count == 1)
            let refusals = try await harness.store.events(AuditQuery(action: .loginFailed)).map { $0.details["reason"] ?? "" }
            #expect(refusals.sorted() == ["password_change_required", "wrong_password"])
        }
    }

    @Test("a one-time password is used once: of changes racing with it, one is made and the others refused")
    func aOneTimePasswordIsUsedOnce() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            let (bob, _) = try await harness.account(.neosc, email: "bob@example.com")
            let temporary = try await client.send(.post, "/api/users/\(bob.id)/password-reset", token: admin)
                .decoded(ResetBody.self).temporaryPassword
            let statuses = try await withThrowingTaskGroup(of: (Int, HTTPResponse.Status).self) { group in
                for index in 0..<8 {
                    group.addTask {
                        let reply = try await client.send(
                            .post, "/api/auth/password",
                            json: body(["email": "bob@example.com", "current_password": temporary, "new_password": "bob's password \(index)"]))
                        return (index, reply.status)
                    }
                }
                return try await group.reduce(into: [(Int, HTTPResponse.Status)]()) { $0.append($1) }
            }
            let made = statuses.filter { $0.1 == .ok }
            #expect(made.count == 1, "\(statuses.map { "\($0.0): \($0.1.code)" })")
            #expect(statuses.allSatisfy { [.ok, .conflict, .unauthorized].contains($0.1) }, "\(statuses.map(\.1.code))")
            let winner = try #require(made.first?.0)
            #expect(try await Self.login(client, "bob@example.com", "bob's password \(winner)").status == .ok)
            #expect(try await harness.store.events(AuditQuery(action: .passwordChanged)).filter(\.success).count == 1)
        }
    }

    @Test("without a token, a change needs the account's email and current password, checked like a login")
    func tokenlessChangeIsALogin() async throws {
        try await Harness.run { harness, client in
            try await harness.account(.user, email: "rae@example.com")
            // A token that is sent but refused is not the same as none: 401, no change.
            let stale = try await client.send(
                .post, "/api/auth/password", token: "not-a-real-token",
                json: body(["email": "rae@example.com", "current_password": Harness.password, "new_password": "another password"]))
            #expect(stale.status == .unauthorized, "\(stale.text)")
            #expect(stale["access_token"] == nil)
            let missing = try await client.send(
                .post, "/api/auth/password", json: body(["current_password": Harness.password, "new_password": "another password"]))
            #expect(missing.status == .unauthorized)
            let wrong = try await client.send(
                .post, "/api/auth/password",
                json: body(["email": "rae@example.com", "current_password": "nope nope", "new_password": "another password"]))
            #expect(wrong.status == .unauthorized)
            #expect(try wrong.decoded(ErrorBody.self).detail == "Invalid credentials")
            // A disabled account cannot use it to get back in.
            var disabled = try #require(try await harness.store.user(email: "rae@example.com"))
            disabled.disabled = true
            try await harness.store.update(disabled)
            let refused = try await client.send(
                .post, "/api/auth/password",
                json: body(["email": "rae@example.com", "current_password": Harness.password, "new_password": "another password"]))
            #expect(refused.status == .unauthorized)
            #expect(try await harness.store.events(AuditQuery(action: .passwordChanged)).isEmpty)
        }
    }
}

struct PasswordChangedBody: Decodable {
    let message: String
    let tokensRevoked: Int

    enum CodingKeys: String, CodingKey {
        case message
        case tokensRevoked = "tokens_revoked"
    }
}

extension PasswordTests {
    struct ResetBody: Decodable {
        let temporaryPassword: String
        let mustChangePassword: Bool

        enum CodingKeys: String, CodingKey {
            case temporaryPassword = "temporary_password"
            case mustChangePassword = "must_change_password"
        }
    }
}
