import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Net
import Services
import TestSupport
import Testing

@testable import App

/// What docs/api.md promises about limits, scopes, bounds and counts, each through HTTP. The
/// numbers are the documented ones, written out: a test that read them from the code could not
/// catch the code drifting from the docs.
@Suite("API promises: limits, scopes, bounds and counts")
struct APIPromiseTests {
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    @Test("100 failed logins from one address within the window → 429 with Retry-After for that address only, audited")
    func loginsPerAddressAreThrottled() async throws {
        let trusted: (inout Configuration) -> Void = { $0.trustedProxies = TrustedProxies([AddressRange("127.0.0.0/8")!]) }
        try await Harness.run(.live, trusted) { harness, client in
            try await harness.account(.user, email: "grace@example.com")
            let sprayer: HTTPFields = [Self.forwardedFor: "203.0.113.7"]
            // A hundred different accounts, so the per-account limit (10) never applies.
            for index in 0..<100 {
                let reply = try await client.send(
                    .post, "/api/auth/login", json: body(["email": "nobody\(index)@example.com", "password": "wrong password!"]),
                    headers: sprayer)
                #expect(reply.status == .unauthorized, "failed login \(index + 1) of 100 is an ordinary refusal")
            }
            // The 101st attempt from that address is refused before its password is looked at.
            let refused = try await client.send(
                .post, "/api/auth/login", json: body(["email": "grace@example.com", "password": Harness.password]),
                headers: sprayer)
            #expect(refused.status == .tooManyRequests, "\(refused.text)")
            #expect(refused.detail?.isEmpty == false)
            let retryAfter = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
            #expect(retryAfter > 0 && retryAfter <= 900, "until the 15-minute window ends")
            #expect(refused["access_token"] == nil)

            // The same account from another address is not held back by the sprayer.
            let elsewhere = try await client.send(
                .post, "/api/auth/login", json: body(["email": "grace@example.com", "password": Harness.password]),
                headers: [Self.forwardedFor: "203.0.113.8"])
            #expect(elsewhere.status == .ok, "\(elsewhere.text)")

            let throttled = try await harness.store.events(AuditQuery(action: .loginFailed, limit: 500))
                .filter { $0.details["reason"] == "throttled" }
            #expect(throttled.count == 1)
            #expect(throttled.first?.ipAddress == "203.0.113.7")
        }
    }

    @Test("session lists: others see only their own whatever user_id says; admins everyone's or one user's; limit 1–500")
    func sessionListsAreScopedAndBounded() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin)
            let alice = try await harness.account(.neosc)
            let bob = try await harness.account(.neosc)
            let alicesLaunch = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: alice.token)
            #expect(alicesLaunch.status == .created)
            let bobsLaunch = try await client.send(.post, "/api/workspaces/ws-secure-browser/launch", token: bob.token)
            #expect(bobsLaunch.status == .created)
            let bobsSession = try bobsLaunch.decoded(LaunchBody.self).sessionID

            func owners(_ path: String, _ token: String) async throws -> [String] {
                let reply = try await client.send(.get, path, token: token)
                #expect(reply.status == .ok, "\(path): \(reply.text)")
                return try reply.decoded([SessionBody].self).map(\.userID)
            }
            for path in ["/api/sessions", "/api/sessions/active"] {
                #expect(try await owners("\(path)?user_id=\(bob.user.id)", alice.token) == [alice.user.id], "a non-admin's user_id is ignored")
                #expect(try await owners(path, admin.token).sorted() == [alice.user.id, bob.user.id].sorted())
                #expect(try await owners("\(path)?user_id=\(bob.user.id)", admin.token) == [bob.user.id])
                #expect(try await owners("\(path)?user_id=usr-nobody", admin.token).isEmpty)
                // A malformed user_id is bad input whoever sends it, though only an admin's is used.
                let long = String(repeating: "u", count: 300)
                for token in [admin.token, alice.token] {
                    let reply = try await client.send(.get, "\(path)?user_id=\(long)", token: token)
                    #expect(reply.status == .unprocessableContent, "\(reply.text)")
                }
                // Newest first: a limit of one keeps Bob's, launched last.
                let newest = try await client.send(.get, "\(path)?limit=1", token: admin.token)
                #expect(newest.status == .ok)
                #expect(try newest.decoded([SessionBody].self).map(\.id) == [bobsSession])
                #expect(try await owners("\(path)?limit=500", admin.token).count == 2)
                for limit in ["0", "501", "-1", "ten", ""] {
                    let reply = try await client.send(.get, "\(path)?limit=\(limit)", token: admin.token)
                    #expect(reply.status == .unprocessableContent, "limit=\(limit): \(reply.text)")
                    #expect(reply.detail?.contains("limit") == true)
                }
            }
            let badStatus = try await client.send(.get, "/api/sessions?status=paused", token: alice.token)
            #expect(badStatus.status == .unprocessableContent)
        }
    }

    @Test("heartbeat: the owner or an admin moves last_seen_at to now; anyone else gets 404; an ended session 409; never audited")
    func heartbeatRules() async throws {
        let clock = ManualClock(Date())
        try await Harness.run(.router, clock: clock.wallClock) { harness, client in
            let admin = try await harness.account(.admin)
            let owner = try await harness.account(.neosc)
            let stranger = try await harness.account(.neosc)
            let id = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: owner.token)
                .decoded(LaunchBody.self).sessionID
            let launchedAt = try #require(try await harness.store.session(id: id)?.lastSeenAt)
            func lastSeen() async throws -> Date? { try await harness.store.session(id: id)?.lastSeenAt }

            let auditedBeforeHeartbeats = try await harness.store.events(AuditQuery(limit: 500)).count
            clock.advance(30)
            let refused = try await client.send(.post, "/api/sessions/\(id)/heartbeat", token: stranger.token)
            #expect(refused.status == .notFound, "another user's session does not exist for them: \(refused.text)")
            #expect(try await lastSeen() == launchedAt, "a refused heartbeat moves nothing")

            let beat = try await client.send(.post, "/api/sessions/\(id)/heartbeat", token: owner.token)
            #expect(beat.status == .ok, "\(beat.text)")
            let beaten = try beat.decoded(SessionBody.self)
            #expect(beaten.status == "active")
            let moved = try #require(try await lastSeen())
            #expect(abs(moved.timeIntervalSince(clock.now)) < 0.001, "last_seen_at is now")
            #expect(abs(beaten.lastSeenAt.timeIntervalSince(clock.now)) < 1, "and the reply says so (to the second)")

            clock.advance(30)
            #expect(try await client.send(.post, "/api/sessions/\(id)/heartbeat", token: admin.token).status == .ok)
            #expect(try await lastSeen().map { abs($0.timeIntervalSince(clock.now)) < 0.001 } == true)

            #expect(try await client.send(.post, "/api/sessions/ses-unknown/heartbeat", token: admin.token).status == .notFound)
            #expect(try await client.send(.post, "/api/sessions/\(id)/disconnect", token: owner.token).status == .ok)
            let afterEnd = try await client.send(.post, "/api/sessions/\(id)/heartbeat", token: owner.token)
            #expect(afterEnd.status == .conflict, "\(afterEnd.text)")
            #expect(afterEnd.detail?.contains("disconnected") == true)

            let audited = try await harness.store.events(AuditQuery(limit: 500)).map(\.action)
            #expect(audited.filter { $0 == .disconnectSession }.count == 1)
            #expect(audited.count == auditedBeforeHeartbeats + 1, "only the disconnect was audited: \(audited)")
        }
    }

    @Test("workspace fields: each documented range's ends are accepted, one past them is 422 naming the field, and nothing changes")
    func workspaceFieldRanges() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            let created = try await client.send(
                .post, "/api/workspaces", token: admin, json: body(["id": "ws-ranges", "name": "Ranges", "type": "linux", "url": "/r"]))
            #expect(created.status == .created, "\(created.text)")
            let defaults = try created.decoded(WorkspaceBody.self)
            #expect(defaults.cpu == 2 && defaults.memory == 4 && defaults.storage == 20)
            #expect(defaults.maxSessionMinutes == 480 && defaults.launchMode == "iframe")
            #expect(defaults.status == "available" && defaults.allowedRoles == ["admin", "neosc"])

            let ranges: [(field: String, lowest: Int, highest: Int)] = [
                ("cpu", 1, 256), ("memory", 1, 4_096), ("storage", 1, 65_536), ("max_session_minutes", 1, 10_080),
            ]
            for (field, lowest, highest) in ranges {
                for value in [lowest, highest] {
                    let accepted = try await client.send(.put, "/api/workspaces/ws-ranges", token: admin, json: body([field: value]))
                    #expect(accepted.status == .ok, "\(field)=\(value): \(accepted.text)")
                    #expect(accepted[field] as? Int == value)
                }
                for value in [lowest - 1, highest + 1] {
                    let refused = try await client.send(.put, "/api/workspaces/ws-ranges", token: admin, json: body([field: value]))
                    #expect(refused.status == .unprocessableContent, "\(field)=\(value): \(refused.text)")
                    #expect(refused.detail?.contains(field) == true, "the detail names \(field): \(refused.detail ?? "")")
                }
                let kept = try await client.send(.get, "/api/workspaces/ws-ranges", token: admin)
                #expect(kept[field] as? Int == highest, "a refused update changed \(field)")
            }

            let texts: [(field: String, refused: [Any], accepted: [Any])] = [
                ("status", ["paused", ""], ["maintenance", "coming_soon", "available"]),
                ("launch_mode", ["popup"], ["new_tab", "iframe"]),
                ("url", ["ftp://files.example.com/", "javascript:alert(1)", "relative/path", ""], ["https://a.example.com/", "/local"]),
                ("name", ["", String(repeating: "n", count: 121)], [String(repeating: "n", count: 120)]),
                ("cpu", ["8", 2.5, true], []),
            ]
            for (field, refusedValues, acceptedValues) in texts {
                for value in refusedValues {
                    let refused = try await client.send(.put, "/api/workspaces/ws-ranges", token: admin, json: body([field: value]))
                    #expect(refused.status.code >= 400 && refused.status.code < 500, "\(field)=\(value): \(refused.text)")
                    #expect(refused.status != .ok && refused.detail?.isEmpty == false, "\(field)=\(value)")
                }
                for value in acceptedValues {
                    let accepted = try await client.send(.put, "/api/workspaces/ws-ranges", token: admin, json: body([field: value]))
                    #expect(accepted.status == .ok, "\(field)=\(value): \(accepted.text)")
                }
            }

            // Ids: 1–64 of a-z, 0-9 and dashes, chosen or generated.
            let longest = "w" + String(repeating: "x", count: 63)
            for (id, status) in [
                (longest, HTTPResponse.Status.created), (longest + "x", .unprocessableContent),
                ("WS-UPPER", .unprocessableContent), ("ws_under", .unprocessableContent), ("", .unprocessableContent),
            ] {
                let reply = try await client.send(
                    .post, "/api/workspaces", token: admin, json: body(["id": id, "name": "N", "type": "linux", "url": "/n"]))
                #expect(reply.status == status, "id \(id.prefix(10))… (\(id.count) characters): \(reply.text)")
            }
            let generated = try await client.send(.post, "/api/workspaces", token: admin, json: body(["name": "N", "type": "t", "url": "/n"]))
            #expect(generated.status == .created)
            let generatedID = try generated.decoded(WorkspaceBody.self).id
            #expect(generatedID.count <= 64 && generatedID.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" })
            for missing in ["name", "type", "url"] {
                var fields: [String: Any] = ["name": "N", "type": "t", "url": "/n"]
                fields[missing] = nil
                let reply = try await client.send(.post, "/api/workspaces", token: admin, json: body(fields))
                #expect(reply.status == .unprocessableContent, "without \(missing)")
                #expect(reply.detail?.contains(missing) == true)
            }
        }
    }

    @Test(
        "reset ends the active sessions of workspaces it removes (terminated, workspaces_reset) and those the default's roles no longer admit (access_revoked), counts them, audits the count"
    )
    func resetCountsTheSessionsItEnds() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            let alice = try await harness.account(.neosc).token
            let bob = try await harness.account(.neosc).token
            for id in ["ws-extra", "ws-extra-two"] {
                let created = try await client.send(
                    .post, "/api/workspaces", token: admin, json: body(["id": id, "name": "X", "type": "t", "url": "/x"]))
                #expect(created.status == .created)
            }
            func launch(_ token: String, _ workspace: String) async throws -> String {
                try await client.send(.post, "/api/workspaces/\(workspace)/launch", token: token).decoded(LaunchBody.self).sessionID
            }
            let removed = [try await launch(alice, "ws-extra"), try await launch(bob, "ws-extra-two")]
            let kept = try await launch(alice, "ws-linux-desktop")
            // A workspace the reset keeps, opened to a role its default does not admit (a probe's
            // HIGH: the session, and its stream, went on).
            let opened = try await client.send(
                .put, "/api/workspaces/ws-admin-panel", token: admin, json: #"{"allowed_roles":["admin","neosc"]}"#)
            #expect(opened.status == .ok, "\(opened.text)")
            let outlived = try await launch(bob, "ws-admin-panel")
            // One already over: not counted again.
            let over = try await launch(bob, "ws-extra")
            #expect(try await client.send(.post, "/api/sessions/\(over)/disconnect", token: bob).status == .ok)

            let reset = try await client.send(.post, "/api/workspaces/reset", token: admin)
            #expect(reset.status == .ok, "\(reset.text)")
            let outcome = try reset.decoded(ResetBody.self)
            #expect(outcome.sessionsTerminated == 3)
            #expect(outcome.workspaces == 6)
            let revoked = try #require(try await harness.store.session(id: outlived))
            #expect(revoked.status == .terminated && revoked.endReason == "access_revoked")
            for id in removed {
                let session = try #require(try await harness.store.session(id: id))
                #expect(session.status == .terminated && session.endReason == "workspaces_reset")
            }
            #expect(try await harness.store.session(id: kept)?.status == .active, "a workspace the reset keeps keeps its sessions")
            #expect(try await harness.store.session(id: over)?.endReason != "workspaces_reset")
            let audit = try await harness.store.events(AuditQuery(action: .resetWorkspaces))
            #expect(audit.count == 1)
            #expect(audit.first?.details["sessions_terminated"] == "3")
            let again = try await client.send(.post, "/api/workspaces/reset", token: admin)
            #expect(try again.decoded(ResetBody.self).sessionsTerminated == 0)
        }
    }

    @Test("stats: failed_logins_24h counts failed logins of the last 24 hours for admins, and forgets them after")
    func failedLoginsInTheLastDay() async throws {
        let clock = ManualClock(Date())
        try await Harness.run(.router, clock: clock.wallClock) { harness, client in
            let (admin, _) = try await harness.account(.admin)
            try await harness.account(.user, email: "heidi@example.com")
            for password in ["wrong one!", "wrong two!", "wrong three!"] {
                let reply = try await client.send(.post, "/api/auth/login", json: body(["email": "heidi@example.com", "password": password]))
                #expect(reply.status == .unauthorized)
            }
            let unknown = try await client.send(.post, "/api/auth/login", json: body(["email": "ghost@example.com", "password": "whatever!"]))
            #expect(unknown.status == .unauthorized)
            let signedIn = try await client.send(.post, "/api/auth/login", json: body(["email": "heidi@example.com", "password": Harness.password]))
            #expect(signedIn.status == .ok)
            let heidi = try signedIn.decoded(SignedInBody.self).accessToken

            /// A token for `user` valid from the clock's now, so it outlives the advances below.
            func token(for user: User) async throws -> String {
                let (token, digest) = BearerCredential.issue()
                try await harness.store.insert(
                    AccessToken(digest: digest, userID: user.id, issuedAt: clock.now, expiresAt: clock.now + 3_600, mfaVerified: false))
                return token
            }
            func stats(_ token: String) async throws -> StatsBody {
                try await client.send(.get, "/api/stats", token: token).decoded(StatsBody.self)
            }
            let system = try await stats(try await token(for: admin))
            #expect(system.scope == "system")
            #expect(system.failedLogins24h == 4, "three wrong passwords and one unknown address")
            #expect(system.logins24h == 1)
            let own = try await stats(heidi)
            #expect(own.scope == "user")
            #expect(own.failedLogins24h == 0, "failed logins are not shown outside the system scope")

            clock.advance(24 * 3_600 - 60)
            #expect(try await stats(try await token(for: admin)).failedLogins24h == 4)
            clock.advance(120)
            let later = try await stats(try await token(for: admin))
            #expect(later.failedLogins24h == 0, "older than a day")
            #expect(later.logins24h == 0)
        }
    }

    @Test("a session records mfa_verified from the sign-in that launched it")
    func sessionsCarryTheirSignInsMFA() async throws {
        try await Harness.run { harness, client in
            let (user, plainToken) = try await harness.account(.neosc, mfa: true)
            let (mfaToken, digest) = BearerCredential.issue()
            let now = Date()
            try await harness.store.insert(
                AccessToken(digest: digest, userID: user.id, issuedAt: now, expiresAt: now + 3_600, mfaVerified: true))

            let verified = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: mfaToken)
            #expect(verified.status == .created, "\(verified.text)")
            let unverified = try await client.send(.post, "/api/workspaces/ws-secure-browser/launch", token: plainToken)
            #expect(unverified.status == .created)
            for (reply, expected) in [(verified, true), (unverified, false)] {
                let launched = try reply.decoded(LaunchBody.self)
                #expect(launched.session.mfaVerified == expected)
                #expect(try await harness.store.session(id: launched.sessionID)?.mfaVerified == expected)
                let shown = try await client.send(.get, "/api/sessions/\(launched.sessionID)", token: plainToken).decoded(SessionBody.self)
                #expect(shown.mfaVerified == expected, "as stored, whichever token reads it")
            }
        }
    }

    @Test("NEOSC_DEMO_MAX_ACTIVE: past it a new demo gets 429 with Retry-After, audited as limit_reached; an ended demo frees its place")
    func demosAreLimitedOverall() async throws {
        try await RecordingPeer.with { peer in
            let settings = DemoSessionTests.settings(peer: peer, lifetime: 600, maxDuration: 1_200, perAddress: 10)
            try await Harness.run(
                .router,
                {
                    settings(&$0)
                    $0.demo.maxActive = 2
                }
            ) { harness, client in
                let first = try await DemoSessionTests.create(client)
                #expect(first.status == .created, "\(first.text)")
                #expect(try await DemoSessionTests.create(client).status == .created)
                let refused = try await DemoSessionTests.create(client)
                #expect(refused.status == .tooManyRequests, "\(refused.text)")
                #expect(refused.detail?.isEmpty == false)
                #expect(Int(refused.headers[.retryAfter] ?? "").map { $0 > 0 } == true)
                #expect(try await harness.store.demos(userID: nil, limit: 100).filter { $0.status == .active }.count == 2)
                let failures = try await harness.store.events(AuditQuery(action: .demoSessionCreated, success: false))
                #expect(failures.count == 1, "the refusal is audited")
                #expect(failures.first?.details["reason"] == "limit_reached" && failures.first?.resourceID == nil)
                #expect(refused.detail?.contains("address") == false, "the overall limit, not the per-address one: \(refused.text)")

                let started = try first.decoded(DemoCreatedBody.self)
                let (token, id) = (started.accessToken, started.demoSessionID)
                #expect(try await client.send(.delete, "/api/demo/sessions/\(id)", token: token).status == .ok)
                #expect(try await DemoSessionTests.create(client).status == .created, "the ended demo's place is free")
            }
        }
    }

    @Test("demo routes: unknown or someone else's demo → 404, extend minutes outside 1–1440 → 422, an ended demo → 409")
    func demoRouteBounds() async throws {
        try await RecordingPeer.with { peer in
            let settings = DemoSessionTests.settings(peer: peer, lifetime: 600, maxDuration: 200_000, perAddress: 10)
            try await Harness.run(.router, settings) { harness, client in
                let admin = try await harness.account(.admin).token
                let neosc = try await harness.account(.neosc).token
                let mine = try await DemoSessionTests.create(client)
                let theirs = try await DemoSessionTests.create(client)
                let started = try mine.decoded(DemoCreatedBody.self)
                let (id, token) = (started.demoSessionID, started.accessToken)
                let otherToken = try theirs.decoded(DemoCreatedBody.self).accessToken

                let shown = try await client.send(.get, "/api/demo/sessions/\(id)", token: token)
                #expect(shown.status == .ok, "\(shown.text)")
                let demo = try shown.decoded(DemoBody.self)
                #expect(demo.id == id && demo.status == "active" && demo.workspaceType == "browser" && demo.completedSteps.isEmpty)
                #expect(demo.expiresAt == started.expiresAt && demo.maxExpiresAt >= demo.expiresAt)
                let own = try await client.send(.get, "/api/demo/sessions", token: token)
                #expect(try own.decoded([DemoBody].self).map(\.id) == [id], "a visitor lists its own demo only")
                #expect(try await client.send(.get, "/api/demo/sessions", token: admin).decoded([DemoBody].self).count == 2)

                for caller in [otherToken, neosc] {
                    #expect(try await client.send(.get, "/api/demo/sessions/\(id)", token: caller).status == .notFound)
                    #expect(try await client.send(.delete, "/api/demo/sessions/\(id)", token: caller).status == .notFound)
                }
                for method in [HTTPRequest.Method.get, .delete] {
                    let unknown = try await client.send(method, "/api/demo/sessions/demo-unknown", token: admin)
                    #expect(unknown.status == .notFound, "\(method) of an unknown demo")
                    #expect(unknown.detail?.isEmpty == false)
                }
                #expect(
                    try await client.send(.post, "/api/demo/sessions/demo-unknown/extend", token: admin, json: body(["minutes": 5])).status
                        == .notFound)

                for minutes in [0, -5, 1_441] {
                    let refused = try await client.send(.post, "/api/demo/sessions/\(id)/extend", token: admin, json: body(["minutes": minutes]))
                    #expect(refused.status == .unprocessableContent, "minutes \(minutes): \(refused.text)")
                    #expect(refused.detail?.contains("1440") == true)
                }
                for text in [#"{"minutes":"ten"}"#, "{}", #"{"minutes":2.5}"#, "not json"] {
                    let refused = try await client.send(.post, "/api/demo/sessions/\(id)/extend", token: admin, json: text)
                    #expect(refused.status.code >= 400 && refused.status.code < 500 && refused.status != .notFound, "\(text): \(refused.text)")
                    #expect(refused.detail?.isEmpty == false)
                }
                let before = try #require(try await harness.store.demo(id: id)?.expiresAt)
                #expect(try await harness.store.demo(id: id)?.expiresAt == before, "refused extensions changed nothing")
                let longest = try await client.send(.post, "/api/demo/sessions/\(id)/extend", token: admin, json: body(["minutes": 1_440]))
                #expect(longest.status == .ok, "\(longest.text)")
                let after = try #require(try await harness.store.demo(id: id)?.expiresAt)
                #expect(after > before + 1_439 * 60, "a day later")

                #expect(try await client.send(.delete, "/api/demo/sessions/\(id)", token: admin).status == .ok)
                let twice = try await client.send(.delete, "/api/demo/sessions/\(id)", token: admin)
                #expect(twice.status == .conflict, "\(twice.text)")
                let extendEnded = try await client.send(.post, "/api/demo/sessions/\(id)/extend", token: admin, json: body(["minutes": 5]))
                #expect(extendEnded.status == .conflict, "\(extendEnded.text)")
            }
        }
    }
}
