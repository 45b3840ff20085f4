import Actors
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Net
import SQLiteNIO
import Services
import TestSupport
import Testing

@testable import App
@testable import SQLiteStore

@Suite struct PersistenceTests {
    @Test func everythingSurvivesARestart() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }

        let first = try await Harness.open(directory: directory)
        let (admin, token) = try await first.account(.admin)
        nonisolated(unsafe) var sessionID = ""
        do {
            try await first.serve { client in
                let created = try await client.send(
                    .post, "/api/workspaces", token: token, json: #"{"id":"ws-keep","name":"Keep","type":"linux","url":"/keep"}"#)
                #expect(created.status == .created)
                _ = try await client.send(.patch, "/api/policies/pol-session-recording", token: token)
                sessionID = try await client.send(.post, "/api/workspaces/ws-keep/launch", token: token).decoded(LaunchBody.self).sessionID
            }
        } catch {
            try? await first.close(removing: false)
            throw error
        }
        try await first.close(removing: false)

        let second = try await Harness.open(directory: directory)
        do {
            try await second.serve { client in
                let me = try await client.send(.get, "/api/auth/me", token: token)
                #expect(me.status == .ok, "tokens survive a restart")
                #expect(try me.decoded(UserBody.self).id == admin.id)
                #expect(try await client.send(.get, "/api/workspaces/ws-keep", token: token).decoded(WorkspaceBody.self).activeSessions == 1)
                let policy = try await client.send(.get, "/api/policies/pol-session-recording", token: token)
                #expect(try policy.decoded(PolicyBody.self).enabled == true)
                #expect(try await client.send(.get, "/api/sessions/\(sessionID)", token: token).decoded(SessionBody.self).status == "active")
                let audit = try await client.send(.get, "/api/audit-logs?action=create_workspace", token: token).decoded([AuditEntryBody].self)
                #expect(audit.count == 1)
                // The session limit counts sessions from before the restart.
                _ = try await client.send(.post, "/api/workspaces/ws-keep/launch", token: token)
                _ = try await client.send(.post, "/api/workspaces/ws-keep/launch", token: token)
                #expect(try await client.send(.post, "/api/workspaces/ws-keep/launch", token: token).status == .conflict)
            }
        } catch {
            try? await second.close(removing: false)
            throw error
        }
        try await second.close(removing: false)
    }

    /// A stop looks for the user's newest active session on a workspace. SQLite, left to choose,
    /// read every active session on the workspace (everyone's) to find it: launch + stop went
    /// 2.2 times as fast once it had an index of its own (docs/benchmarks.md).
    @Test func aStopReadsTheUsersSessionsNotTheWorkspaces() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let connection = try await SQLiteFile.connection(try await SQLiteFile.migrated(in: directory))
        func plan(_ query: String, _ binds: [SQLiteData]) async throws -> [String] {
            try await connection.query("EXPLAIN QUERY PLAN " + query, binds).compactMap { $0.column("detail")?.string }
        }
        let stop = try await plan(
            SQLiteStore.endActive(where: SQLiteStore.newestActiveCondition),
            [.text("stopped"), .float(0), .text("r"), .text("u"), .text("w")])
        // The lists of one user's sessions, and of the active ones, search too: no scan of them all.
        let own = try await plan(SQLiteStore.sessionsQuery(byUser: true, byStatus: false, limit: 100), [.text("u")])
        let active = try await plan(SQLiteStore.sessionsQuery(byUser: false, byStatus: true, limit: 100), [.text("active")])
        try await connection.close()
        // Found and ended in one statement: the session by its key, found through the index.
        #expect(stop.contains("SEARCH sessions USING INDEX sessions_user_workspace (user_id=? AND workspace_id=? AND status=?)"), "\(stop)")
        #expect(!stop.contains { $0.hasPrefix("SCAN") }, "\(stop)")
        #expect(own.first?.hasPrefix("SEARCH sessions USING INDEX sessions_user") == true, "\(own)")
        #expect(active.first?.hasPrefix("SEARCH sessions USING INDEX sessions_status") == true, "\(active)")
    }

    /// SQLite plans a statement for the value of a bound LIMIT, so each query with one was compiled
    /// twice (again at its first step, once bound): the lists write their limit as a number.
    @Test func aListsLimitIsWrittenNotBound() throws {
        var binds = NumberedBinds()
        let page = SQLiteStore.pageStatement(
            AuditQuery(userID: "u", limit: 10), columns: "*", after: nil, binds: &binds)
        #expect(page == "SELECT * FROM audit_logs WHERE user_id = ?1 ORDER BY timestamp DESC, seq DESC LIMIT 10", "\(page)")
        #expect(binds.values == [.text("u")], "the newest page has no cursor: \(binds.values)")
        #expect(SQLiteStore.sessionsQuery(byUser: false, byStatus: false, limit: 7).hasSuffix(" LIMIT 7"))
        #expect(limitClause(20, offset: 40) == " LIMIT 20 OFFSET 40")
        #expect(limitClause(-1) == " LIMIT -1")
    }

    @Test("tokens and users share no column name: a token's first read joins them and finds each column by name")
    func tokensAndUsersShareNoColumnName() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let connection = try await SQLiteFile.connection(try await SQLiteFile.migrated(in: directory))
        func columns(_ table: String) async throws -> Set<String> {
            Set(try await connection.query("SELECT name FROM pragma_table_info('\(table)')").compactMap { $0.column("name")?.string })
        }
        let tokens = try await columns("tokens")
        let users = try await columns("users")
        try await connection.close()
        #expect(tokens.contains("digest") && users.contains("id"))
        #expect(tokens.isDisjoint(with: users), "shared: \(tokens.intersection(users))")
    }

    @Test func revokedTokensStayRevokedAfterARestart() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try await Harness.open(directory: directory)
        let token = try await first.account(.user).token
        try await first.serve { client in
            let reply = try await client.send(.post, "/api/auth/logout", token: token)
            #expect(reply.status == .ok)
        }
        try await first.close(removing: false)

        let second = try await Harness.open(directory: directory)
        try await second.serve { client in
            let reply = try await client.send(.get, "/api/auth/me", token: token)
            #expect(reply.status == .unauthorized)
        }
        try await second.close(removing: false)
    }

    @Test func expiredTokensAreRefused() async throws {
        try await Harness.run { harness, client in
            let (user, _) = try await harness.account(.user)
            let (token, digest) = BearerCredential.issue()
            let past = Date(timeIntervalSinceNow: -60)
            try await harness.store.insert(
                AccessToken(digest: digest, userID: user.id, issuedAt: past - 3_600, expiresAt: past, mfaVerified: false))
            #expect(try await client.send(.get, "/api/auth/me", token: token).status == .unauthorized)
        }
    }
}

@Suite struct TokenSweepTests {
    @Test func sweeperRemovesOnlyLongExpiredTokens() async throws {
        let harness = try await Harness.open()
        do {
            let (user, live) = try await harness.account(.user)
            let (_, oldDigest) = BearerCredential.issue()
            let (_, recentDigest) = BearerCredential.issue()
            let now = Date()
            try await harness.store.insert(
                AccessToken(digest: oldDigest, userID: user.id, issuedAt: now - 200_000, expiresAt: now - 100_000, mfaVerified: false))
            try await harness.store.insert(
                AccessToken(digest: recentDigest, userID: user.id, issuedAt: now - 7_200, expiresAt: now - 3_600, mfaVerified: false))

            let sweeper = ExpiredTokenSweeper(store: harness.store, interval: .seconds(3_600), clock: harness.portal.clock, logger: Harness.logger)
            let task = Task { try await sweeper.run() }
            var remaining = try await harness.store.token(digest: oldDigest)
            _ = try await eventually {
                remaining = try await harness.store.token(digest: oldDigest)
                return remaining == nil
            }
            task.cancel()
            #expect(remaining == nil, "expired over a day ago: removed")
            #expect(try await harness.store.token(digest: recentDigest) != nil, "recently expired: kept for history")
            #expect(try await harness.store.token(digest: BearerCredential.digest(live)) != nil)
        } catch {
            try? await harness.close(removing: true)
            throw error
        }
        try await harness.close(removing: true)
    }
}

@Suite struct NetworkEdgeTests {
    @Test func forwardedForIsBelievedOnlyFromTrustedProxies() async throws {
        try await Harness.run(.live, { $0.trustedProxies = TrustedProxies([AddressRange("127.0.0.0/8")!]) }) { harness, client in
            let token = try await harness.account(.neosc).token
            let launched = try await client.send(
                .post, "/api/workspaces/ws-linux-desktop/launch", token: token,
                headers: [.init("X-Forwarded-For")!: "198.51.100.7, 10.0.0.5, 127.0.0.1"])
            let session = try launched.decoded(LaunchBody.self).session
            // 127.0.0.1 is a trusted hop, 10.0.0.5 is not: it is the client as far as we can know.
            #expect(session.ipAddress == "10.0.0.5")
        }
        try await Harness.run(.live) { harness, client in
            let token = try await harness.account(.neosc).token
            let launched = try await client.send(
                .post, "/api/workspaces/ws-linux-desktop/launch", token: token,
                headers: [.init("X-Forwarded-For")!: "198.51.100.7"])
            let session = try launched.decoded(LaunchBody.self).session
            #expect(session.ipAddress == "127.0.0.1", "an untrusted peer cannot choose its address")
            let audit = try await harness.store.events(AuditQuery(action: .launchWorkspace, limit: 1))
            #expect(audit.first?.ipAddress == "127.0.0.1")
        }
    }

    @Test func tokenDigestsAreLowerCaseHexSHA256() {
        #expect(BearerCredential.digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(BearerCredential.digest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let (token, digest) = BearerCredential.issue()
        #expect(BearerCredential.isWellFormed(token) && digest == BearerCredential.digest(token))
    }

    @Test func addressRanges() {
        let proxies = TrustedProxies([AddressRange("10.0.0.0/8")!, AddressRange("fd00::/8")!, AddressRange("192.0.2.1")!])
        #expect(proxies.isTrusted("10.20.30.40"))
        #expect(proxies.isTrusted("::ffff:10.1.2.3"))
        #expect(proxies.isTrusted("fd12:3456::1"))
        #expect(proxies.isTrusted("192.0.2.1"))
        #expect(!proxies.isTrusted("192.0.2.2"))
        #expect(!proxies.isTrusted("11.0.0.1"))
        #expect(!proxies.isTrusted("not-an-address"))
        #expect(AddressRange("10.0.0.0/33") == nil)
        #expect(AddressRange("10.0.0/8") == nil)
        #expect(AddressRange("fd00::/129") == nil)
        // Found by fuzzing: text after a NUL is not silently dropped.
        #expect(AddressRange("fd00::\u{0}\u{0}/8") == nil)
        #expect(AddressRange("10.0.0.0\u{0}junk") == nil)
        #expect(!proxies.isTrusted("10.0.0.1\u{0}evil"))
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["1.2.3.4\u{0}x, 10.0.0.2"]) == "10.0.0.2")
        #expect(proxies.clientAddress(peer: "203.0.113.9", forwardedFor: ["1.2.3.4"]) == "203.0.113.9")
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["1.2.3.4, 10.0.0.2"]) == "1.2.3.4")
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["garbage, 10.0.0.2"]) == "10.0.0.2")
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: []) == "10.0.0.1")
    }

    @Test func corsOnlyForConfiguredOrigins() async throws {
        try await Harness.run(.router, { $0.corsOrigins = ["https://portal.example.com"] }) { _, client in
            let allowed = try await client.send(.get, "/api/", headers: [.origin: "https://portal.example.com"])
            #expect(allowed.headers[.accessControlAllowOrigin] == "https://portal.example.com")
            let other = try await client.send(.get, "/api/", headers: [.origin: "https://evil.example"])
            #expect(other.headers[.accessControlAllowOrigin] == nil)
            let preflight = try await client.send(
                .options, "/api/workspaces",
                headers: [.origin: "https://portal.example.com", .accessControlRequestMethod: "POST"])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowMethods]?.contains("POST") == true)
            // Every response, errors included, carries the browser policy headers.
            let error = try await client.send(.get, "/api/workspaces")
            for reply in [allowed, preflight, error] {
                #expect(reply.headers[.init("X-Content-Type-Options")!] == "nosniff")
                #expect(reply.headers[.init("Strict-Transport-Security")!] == "max-age=63072000")
                #expect(reply.headers[.init("Referrer-Policy")!] == "no-referrer")
                #expect(reply.headers[.init("X-Frame-Options")!] == "DENY")
                #expect(reply.headers[.contentSecurityPolicy] == "frame-ancestors 'none'")
            }
        }
    }
}
