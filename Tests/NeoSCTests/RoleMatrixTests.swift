import Actors
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Net
import SQLiteStore
import Services
import TestSupport
import Testing

@testable import App

/// Every protected endpoint, for every role and for no credential at all: 401, 403 or success.
@Suite struct RoleMatrixTests {
    struct Call: Sendable, CustomStringConvertible {
        var method: HTTPRequest.Method
        var path: String
        var json: String?
        /// Roles that succeed; everyone else signed in gets `refused`.
        var allowed: Set<Role>
        var success: HTTPResponse.Status = .ok
        var refused: HTTPResponse.Status = .forbidden
        /// An administrators-only action: its refusal is audited as `access_denied`.
        var adminOnly = false
        var description: String { "\(method) \(path)" }
    }

    static let everyone = Set(Role.allCases)
    static let admins: Set<Role> = [.admin]

    /// What the calls act on besides the caller's own account.
    struct Subjects {
        var selfID: String
        /// An active session of the caller's.
        var ownSession: String
        /// An active session of another account's.
        var otherSession: String
        /// An active demo of another visitor's.
        var otherDemo: String

        static let placeholder = Subjects(selfID: "usr-x", ownSession: "ses-x", otherSession: "ses-y", otherDemo: "demo-x")
    }

    /// In an order where each call leaves the next ones meaningful (reads, then writes, logout last).
    static func calls(_ subjects: Subjects) -> [Call] {
        let selfID = subjects.selfID
        return [
            Call(method: .get, path: "/api/auth/me", allowed: everyone),
            Call(method: .get, path: "/api/workspaces", allowed: everyone),
            Call(method: .get, path: "/api/workspaces/ws-secure-browser", allowed: everyone),
            Call(method: .get, path: "/api/workspaces/ws-linux-desktop", allowed: [.admin, .neosc, .user]),
            Call(method: .get, path: "/api/workspaces/ws-windows-rdp", allowed: [.admin, .neosc]),
            Call(method: .get, path: "/api/workspaces/ws-admin-panel", allowed: admins),
            Call(method: .get, path: "/api/sessions", allowed: everyone),
            Call(method: .get, path: "/api/sessions/active", allowed: everyone),
            Call(method: .get, path: "/api/audit-logs", allowed: everyone),
            Call(method: .get, path: "/api/policies", allowed: everyone),
            // A demo visitor reads no policy: the one asked for is not found for it.
            Call(method: .get, path: "/api/policies/pol-mfa-required", allowed: everyone.subtracting([.demoUser]), refused: .notFound),
            Call(method: .get, path: "/api/organizations", allowed: everyone),
            Call(method: .get, path: "/api/stats", allowed: everyone),
            Call(method: .get, path: "/api/users", allowed: admins, adminOnly: true),
            Call(method: .get, path: "/api/sessions/\(subjects.ownSession)", allowed: everyone),
            Call(method: .post, path: "/api/sessions/\(subjects.ownSession)/heartbeat", allowed: everyone),
            Call(method: .get, path: "/api/sessions/\(subjects.otherSession)", allowed: admins, refused: .notFound),
            Call(method: .get, path: "/api/demo/sessions", allowed: [.admin, .demoUser], adminOnly: true),
            Call(method: .get, path: "/api/demo/sessions/\(subjects.otherDemo)", allowed: admins, refused: .notFound),
            Call(
                method: .post, path: "/api/demo/sessions/\(subjects.otherDemo)/extend", json: #"{"minutes":5}"#, allowed: admins,
                adminOnly: true),
            Call(method: .post, path: "/api/workspaces/ws-secure-browser/launch", allowed: everyone, success: .created),
            Call(method: .post, path: "/api/workspaces/ws-secure-browser/stop", allowed: everyone),
            Call(method: .post, path: "/api/workspaces/ws-windows-rdp/launch", allowed: [.admin, .neosc], success: .created),
            Call(method: .post, path: "/api/workspaces/ws-admin-panel/launch", allowed: admins, success: .created),
            Call(
                method: .post, path: "/api/workspaces",
                json: #"{"name":"Matrix","type":"linux","url":"/matrix","id":"ws-matrix"}"#, allowed: admins,
                success: .created, adminOnly: true),
            Call(method: .put, path: "/api/workspaces/ws-secure-browser", json: #"{"cpu":3}"#, allowed: admins, adminOnly: true),
            Call(method: .delete, path: "/api/workspaces/ws-gpu-workstation", allowed: admins, adminOnly: true),
            Call(method: .post, path: "/api/sessions/\(subjects.otherSession)/disconnect", allowed: admins, refused: .notFound),
            Call(method: .delete, path: "/api/demo/sessions/\(subjects.otherDemo)", allowed: admins, refused: .notFound),
            Call(method: .post, path: "/api/workspaces/reset", allowed: admins, adminOnly: true),
            Call(method: .patch, path: "/api/policies/pol-session-recording", allowed: admins, adminOnly: true),
            Call(
                method: .post, path: "/api/organizations", json: #"{"name":"Matrix Org"}"#, allowed: admins, success: .created,
                adminOnly: true),
            Call(method: .patch, path: "/api/users/\(selfID)", json: #"{"disabled":false}"#, allowed: admins, adminOnly: true),
            Call(method: .post, path: "/api/auth/logout", allowed: everyone),
        ]
    }

    @Test(arguments: Role.allCases, StoreKind.allCases)
    func roleGetsExactlyItsRights(_ role: Role, _ store: StoreKind) async throws {
        try await Harness.run(store: store, { $0.demo.enabled = true }) { harness, client in
            let (user, token) = try await harness.account(role)
            let other = try await harness.account(.neosc)
            let visitor = try await harness.account(.demoUser)
            let subjects = Subjects(
                selfID: user.id,
                ownSession: try await Self.session(of: user, in: harness),
                otherSession: try await Self.session(of: other.user, in: harness),
                otherDemo: try #require(try await harness.store.demo(userID: visitor.user.id)).id)
            let calls = Self.calls(subjects)
            for call in calls {
                let reply = try await client.send(call.method, call.path, token: token, json: call.json)
                let expected: HTTPResponse.Status = call.allowed.contains(role) ? call.success : call.refused
                #expect(reply.status == expected, "\(role.rawValue): \(call) → \(reply.status.code) \(reply.text)")
                #expect(reply.headers[.contentType]?.hasPrefix("application/json") == true, "\(call)")
            }
            let denied = try await harness.store.events(AuditQuery(action: .accessDenied, limit: 100))
            let due = calls.filter { $0.adminOnly && !$0.allowed.contains(role) }.count
            #expect(role == .admin ? due == 0 : due >= 9, "the matrix refuses each role some administration")
            #expect(denied.count == due, "every refused administrators-only call is audited, once")
            #expect(denied.allSatisfy { $0.userID == user.id && !$0.success })
        }
    }

    /// Recordings (served when streams are on) are administrators': each refusal audited once.
    @Test func recordingsAreAdministratorsAndTheirRefusalsAudited() async throws {
        try await Harness.run(.router, { $0.allowStreams() }) { harness, client in
            let admin = try await harness.account(.admin).token
            for role in [Role.neosc, .user, .demoUser] {
                let (user, token) = try await harness.account(role)
                for (method, path) in [
                    (HTTPRequest.Method.get, "/api/recordings"), (.get, "/api/recordings/rec-x"), (.head, "/api/recordings/rec-x"),
                    (.delete, "/api/recordings/rec-x"),
                ] {
                    let reply = try await client.send(method, path, token: token)
                    #expect(reply.status == .forbidden, "\(role.rawValue): \(method) \(path) → \(reply.status.code)")
                }
                let denied = try await harness.store.events(AuditQuery(action: .accessDenied, limit: 100)).filter { $0.userID == user.id }
                // `HEAD` is `GET` on the same route: one refusal of it a minute is written.
                #expect(denied.count == 3, "\(role.rawValue): every refusal audited, once a minute per action and route")
            }
            #expect(try await client.send(.get, "/api/recordings", token: admin).status == .ok)
            #expect(try await client.send(.delete, "/api/recordings/rec-x", token: admin).status == .notFound)
        }
    }

    /// A probe: a signed-in account wrote an `access_denied` row per request, as fast as it could
    /// send them. Refused all the same, written once a minute per action and route.
    @Test func refusedAdministrationIsWrittenOnceAMinutePerActionAndRoute() async throws {
        let clock = ManualClock()
        try await Harness.run(clock: clock.wallClock) { harness, client in
            let (user, token) = try await harness.account(.user)
            for _ in 0..<5 { #expect(try await client.send(.get, "/api/users", token: token).status == .forbidden) }
            #expect(try await client.send(.post, "/api/organizations", token: token, json: #"{"name":"Mine"}"#).status == .forbidden)
            clock.advance(61)
            #expect(try await client.send(.get, "/api/users", token: token).status == .forbidden)
            let denied = try await harness.store.events(AuditQuery(action: .accessDenied, limit: 100)).filter { $0.userID == user.id }
            #expect(denied.compactMap { $0.details["path"] }.sorted() == ["/api/organizations", "/api/users", "/api/users"])
        }
    }

    /// An active session of `user`'s on the browser workspace, made straight in the store.
    static func session(of user: User, in harness: Harness) async throws -> String {
        let now = Date()
        let session = WorkspaceSession(
            id: Identifier.make("ses"), userID: user.id, userEmail: user.email, workspaceID: "ws-secure-browser",
            workspaceName: "Secure Browser", status: .active, startedAt: now, expiresAt: nil, lastSeenAt: now,
            ipAddress: "127.0.0.1", mfaVerified: false)
        try await harness.store.start(session, limit: 10)
        return session.id
    }

    @Test func noCredentialIs401Everywhere() async throws {
        try await Harness.run { _, client in
            for call in Self.calls(.placeholder) {
                let reply = try await client.send(call.method, call.path, json: call.json)
                #expect(reply.status == .unauthorized, "\(call) → \(reply.status.code)")
                #expect(reply.detail?.isEmpty == false)
            }
            for path in ["/health", "/api", "/api/"] {
                #expect(try await client.send(.get, path).status == .ok)
            }
        }
    }
}
