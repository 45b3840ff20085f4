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

@Suite struct AdministrationTests {
    @Test(arguments: StoreKind.allCases)
    func roleChangeAndDisablingTakeEffectOnTheNextRequest(_ store: StoreKind) async throws {
        // A long cache lifetime proves eviction, not expiry, is what makes the change visible.
        try await Harness.run(.router, store: store, { $0.cacheLifetime = 3_600 }) { harness, client in
            let admin = try await harness.account(.admin).token
            let (user, token) = try await harness.account(.user)
            #expect(try await client.send(.get, "/api/auth/me", token: token).decoded(UserBody.self).role == "user")
            #expect(try await client.send(.get, "/api/workspaces/ws-windows-rdp", token: token).status == .forbidden)

            let promoted = try await client.send(.patch, "/api/users/\(user.id)", token: admin, json: #"{"role":"neosc"}"#)
            #expect(promoted.status == .ok)
            #expect(try promoted.decoded(UserBody.self).role == "neosc")
            #expect(try await client.send(.get, "/api/workspaces/ws-windows-rdp", token: token).status == .ok)
            #expect(try await client.send(.post, "/api/workspaces/ws-windows-rdp/launch", token: token).status == .created)

            let disabled = try await client.send(.patch, "/api/users/\(user.id)", token: admin, json: #"{"disabled":true}"#)
            #expect(disabled.status == .ok)
            #expect(try disabled.decoded(UserBody.self).disabled == true)
            #expect(try await client.send(.get, "/api/auth/me", token: token).status == .unauthorized)
            let sessions = try await harness.store.sessions(userID: user.id, status: nil, limit: 10)
            #expect(sessions.count == 1 && sessions.allSatisfy { $0.status == .terminated && $0.endReason == "user_disabled" })
            let token2 = try await harness.store.token(digest: BearerCredential.digest(token))
            #expect(token2?.revokedAt != nil, "disabling revokes the tokens, not only the cache")

            let audit = try await harness.store.events(AuditQuery(action: .updateUser, limit: 10))
            #expect(audit.count == 2)
            #expect(audit.contains { $0.details["role"] == "user->neosc" })
            #expect(audit.contains { $0.details["sessions_terminated"] == "1" && $0.details["tokens_revoked"] == "1" })
        }
    }

    /// A role taken away takes effect on the sessions running too: lowering an account's role
    /// ends its sessions on workspaces the new role may not use, and taking a role off a workspace
    /// ends the sessions of accounts that held only that role (`terminated`, `access_revoked`),
    /// each in the change's own audit entry; the other sessions go on.
    @Test(arguments: StoreKind.allCases)
    func rolesTakenAwayEndTheSessionsTheyAllowed(_ store: StoreKind) async throws {
        try await Harness.run(.router, store: store) { harness, client in
            let admin = try await harness.account(.admin).token
            let (user, token) = try await harness.account(.neosc)
            func launch(_ workspace: String, _ token: String) async throws -> String {
                let launched = try await client.send(.post, "/api/workspaces/\(workspace)/launch", token: token)
                #expect(launched.status == .created, "\(launched.text)")
                return try launched.decoded(LaunchBody.self).sessionID
            }
            func session(_ id: String) async throws -> WorkspaceSession? { try await harness.store.session(id: id) }
            let windows = try await launch("ws-windows-rdp", token)
            let linux = try await launch("ws-linux-desktop", token)

            let demoted = try await client.send(.patch, "/api/users/\(user.id)", token: admin, json: #"{"role":"user"}"#)
            #expect(demoted.status == .ok)
            #expect(try await session(windows)?.status == .terminated)
            #expect(try await session(windows)?.endReason == "access_revoked")
            #expect(try await session(linux)?.status == .active, "the new role may still use this one")
            let heartbeat = try await client.send(.post, "/api/sessions/\(windows)/heartbeat", token: token)
            #expect(heartbeat.status == .conflict, "no heartbeat keeps it")
            let roleChange = try await harness.store.events(AuditQuery(action: .updateUser, limit: 10))
            #expect(roleChange.first?.details["sessions_terminated"] == "1")
            #expect(roleChange.first?.details["role"] == "neosc->user")

            // A workspace's roles: the `user`'s session ends, the administrator's goes on.
            let adminSession = try await launch("ws-linux-desktop", admin)
            let narrowed = try await client.send(
                .put, "/api/workspaces/ws-linux-desktop", token: admin, json: #"{"allowed_roles":["admin","neosc"]}"#)
            #expect(narrowed.status == .ok, "\(narrowed.text)")
            #expect(try await session(linux)?.endReason == "access_revoked")
            #expect(try await session(adminSession)?.status == .active)
            let update = try await harness.store.events(AuditQuery(action: .updateWorkspace, limit: 10))
            #expect(update.first?.details["sessions_terminated"] == "1")
            // Widening ends nothing.
            let widened = try await client.send(
                .put, "/api/workspaces/ws-linux-desktop", token: admin, json: #"{"allowed_roles":["admin","neosc","user"]}"#)
            #expect(widened.status == .ok)
            #expect(try await session(adminSession)?.status == .active)
        }
    }

    /// A launch is judged again on the account and the workspace as stored, in its own
    /// transaction: a credential read before a role was taken away (this process's cache, or
    /// another replica's) launches nothing on what the role no longer allows.
    @Test(arguments: StoreKind.allCases)
    func aLaunchDoesNotOutrunARoleTakenAway(_ store: StoreKind) async throws {
        try await Harness.run(.router, store: store) { harness, client in
            let (user, token) = try await harness.account(.neosc)
            #expect(try await client.send(.get, "/api/auth/me", token: token).status == .ok, "the token is cached as neosc")
            // Changed in the store alone, as another server process would: this one's cache still says neosc.
            var demoted = user
            demoted.role = .user
            try await harness.store.updateKeepingAnAdministrator(demoted, from: user)
            let launched = try await client.send(.post, "/api/workspaces/ws-windows-rdp/launch", token: token)
            #expect(launched.status == .forbidden, "\(launched.text)")
            #expect(try await harness.store.activeCount(userID: user.id) == 0)
            // What the stored role allows still launches.
            #expect(try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: token).status == .created)
        }
    }

    /// Nor does a launch outrun its token's revocation (a logout or a reset, here or by another
    /// process within its cache's lifetime): the logout's sweep would not see its session.
    @Test(arguments: StoreKind.allCases)
    func aLaunchDoesNotOutrunItsTokensRevocation(_ store: StoreKind) async throws {
        // An hour's cache: on a slow machine a 5 s entry could lapse before the launch, and the
        // launch would then meet the revocation on its way in, whatever its change checks.
        try await Harness.run(.router, store: store, { $0.cacheLifetime = 3_600 }) { harness, client in
            let (user, token) = try await harness.account(.neosc)
            #expect(try await client.send(.get, "/api/auth/me", token: token).status == .ok, "the token is cached")
            // Revoked in the store alone, as another server process would: this one's cache still has it.
            #expect(try await harness.store.revokeAll(userID: user.id, at: Date()) == 1)
            let launched = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: token)
            #expect(launched.status == .unauthorized, "\(launched.text)")
            #expect(try await harness.store.activeCount(userID: user.id) == 0)
        }
    }

    @Test func theLastAdministratorStays() async throws {
        try await Harness.run { harness, client in
            let (admin, token) = try await harness.account(.admin)
            let demote = try await client.send(.patch, "/api/users/\(admin.id)", token: token, json: #"{"role":"user"}"#)
            #expect(demote.status == .conflict)
            let disable = try await client.send(.patch, "/api/users/\(admin.id)", token: token, json: #"{"disabled":true}"#)
            #expect(disable.status == .conflict)
            #expect(try await client.send(.patch, "/api/users/\(admin.id)", token: token, json: "{}").status == .unprocessableContent)
            #expect(try await client.send(.patch, "/api/users/\(admin.id)", token: token, json: #"{"role":"root"}"#).status == .unprocessableContent)
            // A demo visitor's role comes with a demo: no account is given it, and nothing is recorded.
            let (user, _) = try await harness.account(.user)
            let recorded = try await harness.store.events(AuditQuery(limit: 1_000)).count
            let visitor = try await client.send(.patch, "/api/users/\(user.id)", token: token, json: #"{"role":"demo-user"}"#)
            #expect(visitor.status == .unprocessableContent)
            #expect(try visitor.decoded(ErrorBody.self).detail.contains("comes with a demo"))
            #expect(try await harness.store.user(id: user.id)?.role == .user)
            #expect(try await harness.store.events(AuditQuery(limit: 1_000)).count == recorded)
            // Not even to a demo visitor's own account; disabling one needs no role.
            let (visitorAccount, _) = try await harness.account(.demoUser)
            let same = try await client.send(.patch, "/api/users/\(visitorAccount.id)", token: token, json: #"{"role":"demo-user"}"#)
            #expect(same.status == .unprocessableContent)
            // Nor is a demo visitor's account given another role: it would outlive the demo.
            for role in ["user", "neosc", "admin"] {
                let other = try await client.send(.patch, "/api/users/\(visitorAccount.id)", token: token, json: #"{"role":"\#(role)"}"#)
                #expect(other.status == .conflict, "\(role): \(other.text)")
                #expect(try other.decoded(ErrorBody.self).detail.contains("keeps the role 'demo-user'"))
            }
            #expect(try await harness.store.user(id: visitorAccount.id)?.role == .demoUser)
            let disabled = try await client.send(.patch, "/api/users/\(visitorAccount.id)", token: token, json: #"{"disabled":true}"#)
            #expect(disabled.status == .ok, "\(disabled.text)")

            try await harness.account(.admin)
            #expect(try await client.send(.patch, "/api/users/\(admin.id)", token: token, json: #"{"role":"user"}"#).status == .ok)
            let users = try await client.send(.get, "/api/users", token: token)
            #expect(users.status == .forbidden, "the demotion applies to the very next request")
        }
    }

    /// Asking for what already holds (the role it has, enabled while enabled, its own
    /// organisation) changes nothing: 200 with the account, and no write and no entry.
    @Test(arguments: StoreKind.allCases)
    func aChangeToWhatHoldsWritesNothing(_ store: StoreKind) async throws {
        try await Harness.run(.router, store: store) { harness, client in
            let admin = try await harness.account(.admin).token
            let (user, _) = try await harness.account(.user)
            let stored = try await harness.store.user(id: user.id)
            let recorded = try await harness.store.events(AuditQuery(limit: 1_000)).count
            for body in [#"{"role":"user"}"#, #"{"disabled":false}"#, #"{"organization_id":null}"#, #"{"role":"user","disabled":false}"#] {
                let unchanged = try await client.send(.patch, "/api/users/\(user.id)", token: admin, json: body)
                #expect(unchanged.status == .ok, "\(body): \(unchanged.text)")
                #expect(try unchanged.decoded(UserBody.self).role == "user")
            }
            #expect(try await harness.store.user(id: user.id) == stored, "not even its time of change")
            #expect(try await harness.store.events(AuditQuery(limit: 1_000)).count == recorded)
            // A change among them is written, with what changed alone.
            let promoted = try await client.send(.patch, "/api/users/\(user.id)", token: admin, json: #"{"role":"neosc","disabled":false}"#)
            #expect(promoted.status == .ok)
            let entries = try await harness.store.events(AuditQuery(action: .updateUser, limit: 10))
            #expect(entries.map(\.details) == [["role": "user->neosc"]])
        }
    }

    @Test func policiesToggleAndSet() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            let policies = try await client.send(.get, "/api/policies", token: admin).decoded([PolicyBody].self)
            #expect(policies.map(\.id) == ["pol-mfa-required", "pol-network-zero-trust", "pol-session-recording"])

            let toggled = try await client.send(.patch, "/api/policies/pol-session-recording", token: admin)
            #expect(try toggled.decoded(PolicyBody.self).enabled == true)
            let toggledBack = try await client.send(.patch, "/api/policies/pol-session-recording", token: admin, json: "{}")
            #expect(try toggledBack.decoded(PolicyBody.self).enabled == false)
            let set = try await client.send(.patch, "/api/policies/pol-mfa-required", token: admin, json: #"{"enabled":false}"#)
            #expect(try set.decoded(PolicyBody.self).enabled == false)
            let setAgain = try await client.send(.patch, "/api/policies/pol-mfa-required", token: admin, json: #"{"enabled":false}"#)
            #expect(try setAgain.decoded(PolicyBody.self).enabled == false, "an explicit value is idempotent")
            #expect(
                try await client.send(.patch, "/api/policies/pol-mfa-required", token: admin, json: #"{"enabled":"yes"}"#).status
                    == .unprocessableContent)
            #expect(try await client.send(.patch, "/api/policies/pol-nope", token: admin).status == .notFound)
            // Blanks are a body, and not JSON: 400, nothing flipped (Schemathesis found " " taken for no body).
            let blank = try await client.send(.patch, "/api/policies/pol-mfa-required", token: admin, json: " \n")
            #expect(blank.status == .badRequest)
            #expect(try await harness.store.policy(id: "pol-mfa-required")?.enabled == false)
            #expect(try await harness.store.events(AuditQuery(action: .togglePolicy, limit: 10)).count == 4)
        }
    }

    @Test func organizations() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            let created = try await client.send(.post, "/api/organizations", token: admin, json: #"{"name":"Acme","domain":"ACME.example"}"#)
            #expect(created.status == .created)
            #expect(try created.decoded(OrganizationBody.self).domain == "acme.example")
            #expect(try await client.send(.post, "/api/organizations", token: admin, json: #"{"name":"acme"}"#).status == .conflict)

            // Registering names an organisation: a new one is founded; an existing one is never
            // joined, not even from an address at its domain, which nothing proves the registrant owns.
            let newOrg = try await client.send(
                .post, "/api/auth/register",
                json: body(["email": "x@globex.example", "password": Harness.password, "name": "X", "organization": "Globex"]))
            #expect(newOrg.status == .created)
            #expect(try newOrg.decoded(SignedInBody.self).user.organization == "Globex")
            let outsider = try await client.send(
                .post, "/api/auth/register",
                json: body(["email": "mallory@evil.example", "password": Harness.password, "name": "M", "organization": "ACME"]))
            #expect(outsider.status == .conflict)
            let atItsDomain = try await client.send(
                .post, "/api/auth/register",
                json: body(["email": "wile@acme.example", "password": Harness.password, "name": "W", "organization": "acme"]))
            #expect(atItsDomain.status == .conflict, "\(atItsDomain.text)")
            #expect(try await harness.store.user(email: "wile@acme.example") == nil, "a refused registration makes no account")

            // An administrator adds the member; null takes one out; a name of no organisation is a 422.
            let acme = try created.decoded(OrganizationBody.self)
            let insider = try await client.send(
                .post, "/api/auth/register", json: body(["email": "wile@acme.example", "password": Harness.password, "name": "W"]))
            let insiderBody = try insider.decoded(SignedInBody.self)
            let insiderToken = insiderBody.accessToken
            let added = try await client.send(
                .patch, "/api/users/\(insiderBody.user.id)", token: admin, json: #"{"organization_id":"\#(acme.id)"}"#)
            #expect(added.status == .ok, "\(added.text)")
            #expect(try added.decoded(UserBody.self).organization == "Acme")
            #expect(
                try await client.send(.patch, "/api/users/\(insiderBody.user.id)", token: admin, json: #"{"organization_id":"org-nope"}"#)
                    .status == .unprocessableContent)
            let stray = try await client.send(
                .patch, "/api/users/\(insiderBody.user.id)", token: admin, json: #"{"disabled":true,"email":"other@example.com"}"#)
            #expect(stray.status == .unprocessableContent && stray.text.contains("'email'"), "\(stray.text)")
            #expect(try await harness.store.user(id: insiderBody.user.id)?.disabled == false, "a refused change changes nothing")
            let changes = try await harness.store.events(AuditQuery(action: .updateUser, limit: 10))
            #expect(changes.map { $0.details["organization"] } == ["none->\(acme.id)"])
            #expect(
                try await client.send(.post, "/api/organizations", token: admin, json: #"{"name":"Initrode","extra":1}"#).status
                    == .unprocessableContent)

            let everyOrganization = try await client.send(.get, "/api/organizations", token: admin)
            #expect(everyOrganization.status == .ok, "\(everyOrganization.text)")
            #expect(try everyOrganization.decoded([OrganizationBody].self).count == 2)
            let ownReply = try await client.send(.get, "/api/organizations", token: insiderToken)
            #expect(ownReply.status == .ok, "\(ownReply.text)")
            #expect(try ownReply.decoded([OrganizationBody].self).map(\.name) == ["Acme"])
            let loner = try await harness.account(.user).token
            let lonerReply = try await client.send(.get, "/api/organizations", token: loner)
            #expect(lonerReply.status == .ok, "an account without an organization sees none, not an error: \(lonerReply.text)")
            #expect(try lonerReply.decoded([OrganizationBody].self).isEmpty)
            #expect(try await harness.store.events(AuditQuery(action: .createOrganization, limit: 10)).count == 1)

            let removed = try await client.send(
                .patch, "/api/users/\(insiderBody.user.id)", token: admin, json: #"{"organization_id":null}"#)
            #expect(removed.status == .ok, "\(removed.text)")
            #expect(try removed.decoded(UserBody.self).organization == nil)
            #expect(try await client.send(.get, "/api/organizations", token: insiderToken).decoded([OrganizationBody].self).isEmpty)
        }
    }

    /// Registrations that found the same new organisation at once: the first founds it, and the
    /// others, finding it taken when they write, are refused (409) as a later one is, each
    /// leaving no account behind; none is an error.
    @Test(arguments: StoreKind.allCases)
    func registrationsFoundingOneOrganizationAtOnce(_ store: StoreKind) async throws {
        try await Harness.run(.router, store: store) { harness, client in
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for index in 0..<6 {
                    group.addTask {
                        try await client.send(
                            .post, "/api/auth/register",
                            json: body([
                                "email": "founder\(index)@initech.example", "password": Harness.password, "name": "F", "organization": "Initech",
                            ]))
                    }
                }
                return try await group.reduce(into: [Reply]()) { $0.append($1) }
            }
            #expect(replies.filter { $0.status == .created }.count == 1, "\(replies.map(\.text))")
            #expect(replies.filter { $0.status == .conflict }.count == 5, "\(replies.map(\.text))")
            let organizations = try await harness.store.organizations()
            #expect(organizations.map(\.name) == ["Initech"])
            let registered = try await harness.store.users(matching: "initech", limit: 100, offset: 0)
            #expect(registered.count == 1 && registered.first?.organizationID == organizations.first?.id)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func statsAreComputed(_ store: StoreKind) async throws {
        try await Harness.run(store: store) { harness, client in
            let admin = try await harness.account(.admin, mfa: true).token
            let org = Organization(id: "org-stats", name: "Stats Org", domain: "stats.example", createdAt: Date())
            try await harness.store.insert(org)
            let member = try await harness.account(.neosc, organizationID: org.id).token
            try await harness.account(.user, organizationID: org.id, mfa: true)
            // A demo visitor's account (every demo leaves one; none can have a second factor) is not
            // one of the people counted: counted, it pushed the MFA coverage towards nothing (a probe).
            try await harness.account(.demoUser)

            func stats(_ token: String) async throws -> StatsBody {
                try await client.send(.get, "/api/stats", token: token).decoded(StatsBody.self)
            }
            let before = try await stats(admin)
            #expect(before.scope == "system")
            #expect(before.totalUsers == 3)
            #expect(before.usersWithMFA == 2)
            #expect(before.activeSessions == 0)
            #expect(before.totalWorkspaces == 6 && before.availableWorkspaces == 5)
            #expect(before.totalOrganizations == 1)
            // The defaults start switched off (docs/policies.md).
            #expect(before.policiesEnabled == 0 && before.policiesTotal == 3)
            // Policies 0 of 100 enabled → 0; MFA 2 of 3 → 26.67; total → 27.
            #expect(before.securityScore == 27)

            _ = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: member)
            _ = try await client.send(.patch, "/api/policies/pol-session-recording", token: admin)
            let after = try await stats(admin)
            #expect(after.activeSessions == 1)
            // Policies 25 of 100 → 15; MFA 26.67; total 41.67 → 42.
            #expect(after.securityScore == 42)

            let scoped = try await stats(member)
            #expect(scoped.scope == "organization")
            #expect(scoped.totalUsers == 2)
            #expect(scoped.activeSessions == 1)
            #expect(scoped.totalWorkspaces == 5, "only the workspaces the role may see")
            // Policies 25 of 100 → 15; MFA 1 of 2 → 20.
            #expect(scoped.securityScore == 35)

            // Someone in no organisation sees their own figures, logins counted by the store.
            let loner = try await harness.account(.user, email: "loner@example.com")
            let login = try await client.send(
                .post, "/api/auth/login", json: body(["email": "loner@example.com", "password": Harness.password]))
            #expect(login.status == .ok)
            let own = try await stats(loner.token)
            #expect(own.scope == "user")
            #expect(own.logins24h == 1)
            #expect(own.totalUsers == 1)
            #expect(own.activeSessions == 0)
            // Their own sessions, as the session registry counts them: a launch and a stop show at once.
            _ = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: loner.token)
            #expect(try await stats(loner.token).activeSessions == 1)
            #expect(try await stats(admin).activeSessions == 2, "everyone's: the member's and theirs")
            _ = try await client.send(.post, "/api/workspaces/ws-linux-desktop/stop", token: loner.token)
            #expect(try await stats(loner.token).activeSessions == 0)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func auditLogFiltersAndScope(_ store: StoreKind) async throws {
        try await Harness.run(store: store) { harness, client in
            let admin = try await harness.account(.admin).token
            let (user, token) = try await harness.account(.user)
            _ = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: token)
            _ = try await client.send(.post, "/api/workspaces/ws-windows-rdp/launch", token: token)
            _ = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: admin)

            let mine = try await client.send(.get, "/api/audit-logs?user_id=somebody-else", token: token).decoded([AuditEntryBody].self)
            #expect(mine.count == 2 && mine.allSatisfy { $0.userID == user.id }, "others read only their own")
            let all = try await client.send(.get, "/api/audit-logs", token: admin).decoded([AuditEntryBody].self)
            #expect(all.count == 3)
            let timestamps = all.map(\.timestamp)
            #expect(timestamps == timestamps.sorted(by: >), "newest first")
            // Each filter answers 200 with what it selects (an error's body is no empty list).
            let filtered: [(query: String, count: Int)] = [
                ("success=false", 1), ("user_id=\(user.id)", 2), ("action=launch_workspace&limit=2", 2),
                ("since=2999-01-01T00:00:00Z", 0), ("until=2000-01-01T00:00:00Z", 0),
            ]
            for (query, count) in filtered {
                let reply = try await client.send(.get, "/api/audit-logs?\(query)", token: admin)
                #expect(reply.status == .ok, "\(query): \(reply.text)")
                #expect(try reply.decoded([AuditEntryBody].self).count == count, "\(query)")
            }
            // Every field of an entry, typed: a launch by the administrator, newest first.
            let entry = try #require(all.first)
            #expect(entry.action == "launch_workspace" && entry.success && entry.resourceType == "workspace")
            #expect(entry.resourceID == "ws-linux-desktop" && entry.userEmail != nil && entry.ipAddress != nil)
            #expect(entry.details["session_id"]?.hasPrefix("ses") == true && !entry.id.isEmpty)
        }
    }
}
