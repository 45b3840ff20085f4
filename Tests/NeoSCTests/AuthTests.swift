import Actors
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Net
import SQLiteStore
import Services
import Testing

@testable import App

@Suite struct AuthTests {
    @Test func healthAndAbout() async throws {
        try await Harness.run { _, client in
            let health = try await client.send(.get, "/health")
            #expect(health.status == .ok)
            #expect(try health.decoded(HealthBody.self).status == "healthy")
            let about = try await client.send(.get, "/api/")
            #expect(about.status == .ok)
            #expect(try about.decoded(AboutBody.self).version == Configuration.version)
            // Written once per process, byte for byte what `PortalJSON`'s encoder writes.
            let encoded = try PortalJSON.encoder.encode(["message": "NeoSC Zero Trust workspace access API", "version": Configuration.version])
            #expect(about.text == String(decoding: encoded, as: UTF8.self))
            #expect(about.headers[.contentType] == "application/json; charset=utf-8")
        }
    }

    /// HEAD is answered wherever GET is (health checkers and link checkers send it): GET's status
    /// and headers, its length included, without the body.
    @Test func headIsAnsweredLikeGet() async throws {
        try await Harness.run(.live) { harness, client in
            for path in ["/health", "/api/", "/login"] {
                let get = try await client.send(.get, path)
                let head = try await client.send(.head, path)
                #expect(head.status == get.status, "\(path)")
                #expect(head.text.isEmpty, "\(path)")
                #expect(head.headers[.contentLength] == get.headers[.contentLength], "\(path)")
                #expect(head.headers[.contentType] == get.headers[.contentType], "\(path)")
            }
            let token = try await harness.account(.user).token
            #expect(try await client.send(.head, "/api/auth/me", token: token).status == .ok)
            #expect(try await client.send(.head, "/api/auth/me").status == .unauthorized)
        }
    }

    @Test func registerLoginMeLogout() async throws {
        try await Harness.run { harness, client in
            let registered = try await client.send(
                .post, "/api/auth/register",
                json: body(["email": " Alice@Example.COM ", "password": Harness.password, "name": "Alice"]))
            #expect(registered.status == .created)
            let user = try registered.decoded(SignedInBody.self).user
            #expect(user.email == "alice@example.com")
            #expect(user.name == "Alice" && user.role == "user" && user.organization == nil && !user.disabled)
            #expect(user.mfaEnabled == false)
            #expect(registered.text.contains("password_hash") == false)
            #expect(registered.text.contains("$2") == false, "no bcrypt hash on the wire")

            let login = try await client.send(
                .post, "/api/auth/login", json: body(["email": "alice@example.com", "password": Harness.password]))
            #expect(login.status == .ok)
            let signedIn = try login.decoded(SignedInBody.self)
            #expect(signedIn.tokenType == "bearer")
            let token = signedIn.accessToken
            #expect(token.hasPrefix("neosc_") && token.count == 49)
            #expect(signedIn.expiresAt > Date() && signedIn.user.id == user.id)

            let me = try await client.send(.get, "/api/auth/me", token: token)
            #expect(me.status == .ok)
            #expect(try me.decoded(UserBody.self).email == "alice@example.com")

            // The token is stored only as a digest.
            #expect(try await harness.store.token(digest: token) == nil)
            #expect(try await harness.store.token(digest: BearerCredential.digest(token)) != nil)

            _ = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: token)
            let logout = try await client.send(.post, "/api/auth/logout", token: token)
            #expect(logout.status == .ok)
            #expect(try logout.decoded(SignedOutBody.self).sessionsTerminated == 1)
            let after = try await client.send(.get, "/api/auth/me", token: token)
            #expect(after.status == .unauthorized)
            #expect(after.headers[.wwwAuthenticate] == "Bearer")

            let actions = try await harness.store.events(AuditQuery(limit: 50)).map(\.action)
            #expect(actions.contains(.register) && actions.contains(.login) && actions.contains(.logout))
        }
    }

    @Test("logouts at once with one token: one logs out, the others find it revoked (401), one entry")
    func logoutsAtOnceLogOutOnce() async throws {
        // An hour's cache: every logout must find the token cached (a lapsed entry would send
        // the later ones to the store, which refuses them whatever the logout checks).
        try await Harness.run(.router, { $0.cacheLifetime = 3_600 }) { harness, client in
            let (user, token) = try await harness.account(.neosc)
            #expect(try await client.send(.get, "/api/auth/me", token: token).status == .ok, "the token is cached")
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<8 { group.addTask { try await client.send(.post, "/api/auth/logout", token: token).status } }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .ok }.count == 1, "\(statuses.map(\.code))")
            #expect(statuses.allSatisfy { [.ok, .unauthorized].contains($0) })
            #expect(try await harness.store.events(AuditQuery(action: .logout)).filter { $0.userID == user.id }.count == 1)
        }
    }

    @Test func badCredentialsLookTheSame() async throws {
        try await Harness.run { harness, client in
            try await harness.account(.user, email: "bob@example.com")
            let wrongPassword = try await client.send(
                .post, "/api/auth/login", json: body(["email": "bob@example.com", "password": "not the password"]))
            let unknownEmail = try await client.send(
                .post, "/api/auth/login", json: body(["email": "nobody@example.com", "password": "not the password"]))
            #expect(wrongPassword.status == .unauthorized)
            #expect(unknownEmail.status == .unauthorized)
            #expect(wrongPassword.text == unknownEmail.text)
            #expect(wrongPassword.detail == "Invalid credentials")

            let failures = try await harness.store.events(AuditQuery(action: .loginFailed, limit: 10))
            #expect(failures.count == 2)
            #expect(Set(failures.compactMap { $0.details["reason"] }) == ["wrong_password", "unknown_email"])
            #expect(failures.allSatisfy { !$0.success })
        }
    }

    @Test func disabledAccountCannotLogIn() async throws {
        try await Harness.run { harness, client in
            var (user, _) = try await harness.account(.user, email: "carol@example.com")
            user.disabled = true
            try await harness.store.update(user)
            let login = try await client.send(
                .post, "/api/auth/login", json: body(["email": "carol@example.com", "password": Harness.password]))
            #expect(login.status == .unauthorized)
            #expect(login.detail == "Invalid credentials")
        }
    }

    @Test func repeatedFailuresAreThrottled() async throws {
        try await Harness.run { harness, client in
            try await harness.account(.user, email: "dave@example.com")
            for _ in 0..<10 {
                let reply = try await client.send(
                    .post, "/api/auth/login", json: body(["email": "dave@example.com", "password": "wrong password!"]))
                #expect(reply.status == .unauthorized)
            }
            // Even the right password is refused while the window lasts.
            let throttled = try await client.send(
                .post, "/api/auth/login", json: body(["email": "dave@example.com", "password": Harness.password]))
            #expect(throttled.status == .tooManyRequests)
            let retryAfter = try #require(throttled.headers[.retryAfter].flatMap { Int($0) })
            #expect(retryAfter > 0 && retryAfter <= 900)
        }
    }

    @Test func registrationRules() async throws {
        try await Harness.run { _, client in
            let valid = ["email": "erin@example.com", "password": Harness.password, "name": "Erin"]
            #expect(try await client.send(.post, "/api/auth/register", json: body(valid)).status == .created)
            let duplicate = try await client.send(
                .post, "/api/auth/register", json: body(valid.merging(["email": "ERIN@example.com"]) { $1 }))
            #expect(duplicate.status == .conflict)

            for (field, value) in [
                ("email", "not-an-email"), ("email", "a@b"), ("email", "x@y..com"), ("password", "short"),
                // Not a DNS name, or the domain of demo visitors' accounts (which no one may pass for).
                ("email", "u1@-acme.com"), ("email", "u1@acme-.com"), ("email", "u1@\(String(repeating: "a", count: 64)).com"),
                ("email", "visitor@demo.neosc.invalid"), ("email", "visitor@x.DEMO.neosc.invalid"),
                ("password", String(repeating: "p", count: 129)), ("name", ""), ("name", "   "),
            ] {
                var candidate = valid
                candidate["email"] = "new-\(UUID().uuidString.prefix(6))@example.com"
                candidate[field] = value
                let reply = try await client.send(.post, "/api/auth/register", json: body(candidate))
                #expect(reply.status == .unprocessableContent, "\(field)=\(value)")
                #expect(reply.detail?.isEmpty == false)
            }
            var eight = valid
            eight["email"] = "frank@example.com"
            eight["password"] = "12345678"
            #expect(try await client.send(.post, "/api/auth/register", json: body(eight)).status == .created)
        }
    }

    @Test func registrationsPerAddressAreThrottled() async throws {
        try await Harness.run { _, client in
            for index in 0..<20 {
                let reply = try await client.send(
                    .post, "/api/auth/register",
                    json: body(["email": "spray\(index)@example.com", "password": Harness.password, "name": "S"]))
                #expect(reply.status == .created, "registration \(index + 1) of 20")
            }
            let refused = try await client.send(
                .post, "/api/auth/register",
                json: body(["email": "spray-last@example.com", "password": Harness.password, "name": "S"]))
            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers[.retryAfter].flatMap { Int($0) }.map { $0 > 0 && $0 <= 3_600 } == true)
        }
    }

    @Test func registrationCanBeDisabled() async throws {
        try await Harness.run(.router, { $0.allowRegistration = false }) { _, client in
            let reply = try await client.send(
                .post, "/api/auth/register",
                json: body(["email": "gina@example.com", "password": Harness.password, "name": "Gina"]))
            #expect(reply.status == .forbidden)
            // Off means off whatever the body: the refusal comes before the body is read.
            for text in ["", "not json", "{}"] {
                #expect(try await client.send(.post, "/api/auth/register", json: text).status == .forbidden, "\(text)")
            }
        }
        // Demo creation likewise: 404 while demos are off, whatever the body.
        try await Harness.run { _, client in
            for text in [#"{"workspace_type":"browser"}"#, "", "not json"] {
                let reply = try await client.send(.post, "/api/demo/sessions", json: text)
                #expect(reply.status == .notFound, "\(text)")
            }
        }
    }

    /// A registration attempt counts before its body is read, so malformed attempts count too.
    @Test func malformedRegistrationsCountTowardsTheLimit() async throws {
        try await Harness.run { _, client in
            for index in 0..<20 {
                let reply = try await client.send(.post, "/api/auth/register", json: index.isMultiple(of: 2) ? "not json" : "{}")
                #expect(reply.status == .badRequest || reply.status == .unprocessableContent)
            }
            let refused = try await client.send(
                .post, "/api/auth/register", json: body(["email": "late@example.com", "password": Harness.password, "name": "L"]))
            #expect(refused.status == .tooManyRequests)
        }
    }

    @Test func malformedCredentialsAreRefused() async throws {
        try await Harness.run { _, client in
            for header in ["Bearer nope", "Bearer neosc_" + String(repeating: "A", count: 43), "Basic abc", "Bearer"] {
                let reply = try await client.send(.get, "/api/auth/me", headers: [.authorization: header])
                #expect(reply.status == .unauthorized, "\(header)")
                #expect(reply.detail?.isEmpty == false)
            }
            #expect(try await client.send(.get, "/api/auth/me").status == .unauthorized)
        }
    }

    /// RFC 6750's `Authorization: Bearer <token>`: the scheme's name in any case, then one or more
    /// spaces; spaces and tabs around the token do not count. Anything else is not a bearer token.
    @Test func theBearerSchemeIsReadAsHTTPDefinesIt() async throws {
        try await Harness.run { harness, client in
            let token = try await harness.account(.user).token
            for header in ["Bearer \(token)", "bearer \(token)", "BEARER \(token)", "Bearer   \(token)", "Bearer \t\(token)"] {
                let reply = try await client.send(.get, "/api/auth/me", headers: [.authorization: header])
                #expect(reply.status == .ok, "\(header.debugDescription)")
            }
            let refusals = [
                "Bearer\t\(token)": "Authorization must be a Bearer token",
                "Bearers \(token)": "Authorization must be a Bearer token",
                "Bearer": "Authorization must be a Bearer token",
                "Bearer \(token) \(token)": "Invalid token",
                "Bearer \(token)\u{A0}": "Invalid token",
            ]
            for (header, detail) in refusals {
                let reply = try await client.send(.get, "/api/auth/me", headers: [.authorization: header])
                #expect(reply.status == .unauthorized, "\(header.debugDescription)")
                #expect(reply.detail == detail, "\(header.debugDescription)")
            }
        }
    }
}

/// `BearerCredential.token(inAuthorization:)` on values no HTTP parser would hand over (blanks
/// at the ends) and on tokens that end in a multi-byte character: the token ends where its last
/// byte does. (`scripts/fuzz --target bearer` checks it against a plain reference.)
@Suite struct BearerSchemeTests {
    @Test(arguments: [
        ("Bearer abc", "abc"), ("bEaReR abc", "abc"), (" \tBearer  \t abc \t ", "abc"), ("Bearer a b", "a b"),
        ("Bearer abcé", "abcé"), ("Bearer é", "é"), ("Bearer abc\u{A0}", "abc\u{A0}"), ("Bearer 👩‍💻 ", "👩‍💻"),
    ])
    func theTokenIsWhatFollowsTheScheme(header: String, token: String) {
        #expect(BearerCredential.token(inAuthorization: header).map(String.init) == token)
    }

    @Test(arguments: ["", "Bearer", "Bearer ", "Bearer \t ", "Bearer\tabc", "Basic abc", "Bearers abc", "Béarer abc", "\u{A0}Bearer abc"])
    func otherValuesCarryNoToken(header: String) {
        #expect(BearerCredential.token(inAuthorization: header) == nil)
    }
}

@Suite struct BadInputTests {
    @Test func everyKindOfBadBodyIsA4xx() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            let cases: [(String, [UInt8], HTTPResponse.Status)] = [
                ("/api/auth/login", Array("{not json".utf8), .badRequest),
                ("/api/auth/login", [], .badRequest),
                ("/api/auth/login", Array("[1,2]".utf8), .badRequest),
                ("/api/auth/login", Array("\"text\"".utf8), .badRequest),
                ("/api/auth/login", [0xFF, 0xFE, 0x7B, 0x7D], .badRequest),
                ("/api/auth/login", Array(#"{"email":"a@b.co"}"#.utf8), .unprocessableContent),
                ("/api/auth/login", Array(#"{"email":5,"password":"x"}"#.utf8), .unprocessableContent),
                ("/api/auth/login", Array(#"{"email":null,"password":"x"}"#.utf8), .unprocessableContent),
                ("/api/auth/register", Array(#"{"email":"a@b.co","password":"12345678"}"#.utf8), .unprocessableContent),
                ("/api/workspaces", Array(#"{"name":"x","type":"linux","url":"/x","status":"broken"}"#.utf8), .unprocessableContent),
                ("/api/workspaces", Array(#"{"name":"x","type":"linux","url":"/x","allowed_roles":["root"]}"#.utf8), .unprocessableContent),
                ("/api/workspaces", Array(#"{"name":"x","type":"linux","url":"/x","cpu":"many"}"#.utf8), .unprocessableContent),
                ("/api/workspaces", Array(#"{"name":"x","type":"linux","url":"/x","cpu":0}"#.utf8), .unprocessableContent),
                ("/api/workspaces", Array(#"{"name":"x","type":"linux","url":"javascript:alert(1)"}"#.utf8), .unprocessableContent),
                ("/api/workspaces", Array(#"{"name":"x","type":"linux","url":"/x","id":"Bad Id!"}"#.utf8), .unprocessableContent),
                ("/api/workspaces", Array(#"{"type":"linux","url":"/x"}"#.utf8), .unprocessableContent),
                ("/api/organizations", Array(#"{"name":"Acme","domain":"not a domain"}"#.utf8), .unprocessableContent),
            ]
            for (path, bytes, expected) in cases {
                let reply = try await client.sendBytes(.post, path, token: admin, bytes: bytes)
                #expect(reply.status == expected, "\(path) \(String(decoding: bytes, as: UTF8.self))")
                #expect(reply.detail?.isEmpty == false, "\(path): \(reply.text)")
            }
            let missing = try await client.sendBytes(
                .post, "/api/auth/login", token: nil, bytes: Array(#"{"email":"a@b.co"}"#.utf8))
            #expect(missing.detail == "Field 'password' is required")
        }
    }

    @Test func oversizedBodyIs413() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            let big = Array(#"{"name":""#.utf8) + Array(repeating: UInt8(ascii: "a"), count: (1 << 20) + 10) + Array(#""}"#.utf8)
            let reply = try await client.sendBytes(.post, "/api/workspaces", token: admin, bytes: big)
            #expect(reply.status == .contentTooLarge)
            #expect(reply.detail != nil)
            #expect(try await harness.store.workspaces().count == 6, "nothing written")
        }
    }

    @Test func unknownRoutesAndIdsAre404() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            for path in ["/nope", "/api/workspaces/ws-missing", "/api/sessions/ses-missing", "/api/policies/pol-missing"] {
                let reply = try await client.send(.get, path, token: admin)
                #expect(reply.status == .notFound, "\(path)")
                #expect(reply.detail != nil)
            }
            #expect(try await client.send(.patch, "/api/users/usr-missing", token: admin, json: #"{"role":"user"}"#).status == .notFound)
            #expect(try await client.send(.delete, "/api/workspaces/ws-missing", token: admin).status == .notFound)
            #expect(try await client.send(.post, "/api/sessions/ses-missing/disconnect", token: admin).status == .notFound)
        }
    }

    @Test func badQueryParametersAre422() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            // Days that do not exist are refused, not rolled over into the next month.
            let impossible = ["2026-02-29T00:00:00Z", "2026-02-31T00:00:00Z", "2026-04-31T12:00:00Z", "2026-01-01T24:00:00Z"]
            for query in ["limit=0", "limit=501", "limit=abc", "since=yesterday", "until=2026-13-01", "success=maybe"]
                + impossible.map({ "since=\($0)" })
            {
                let reply = try await client.send(.get, "/api/audit-logs?\(query)", token: admin)
                #expect(reply.status == .unprocessableContent, "\(query)")
            }
            for query in ["since=2024-02-29T00:00:00Z", "until=2026-12-31T23:59:59Z", "since=2026-03-01T00:00:00.250%2B05:00"] {
                let reply = try await client.send(.get, "/api/audit-logs?\(query)", token: admin)
                #expect(reply.status == .ok, "\(query)")
            }
            #expect(try await client.send(.get, "/api/sessions?status=sleeping", token: admin).status == .unprocessableContent)
            #expect(try await client.send(.get, "/api/users?offset=-1", token: admin).status == .unprocessableContent)
            // A parameter given twice: the second was never read (a probe), whichever came first.
            // A sign is no digit; a session filter's user id is held to an id's rules, as the trail's.
            for path in [
                "/api/audit-logs?limit=1&limit=abc", "/api/audit-logs?limit=abc&limit=1", "/api/sessions?status=expired&status=bogus",
                "/api/users?search=a&search=b", "/api/audit-logs?limit=%2B5", "/api/users?offset=%2B1", "/api/audit-logs?limit=%205",
                "/api/sessions?user_id=%0A", "/api/sessions?user_id=%E2%80%AE",
            ] {
                let reply = try await client.send(.get, path, token: admin)
                #expect(reply.status == .unprocessableContent, "\(path): \(reply.text)")
            }
            #expect(try await client.send(.get, "/api/audit-logs?limit=5&offset=0", token: admin).status == .ok)
        }
    }
}
