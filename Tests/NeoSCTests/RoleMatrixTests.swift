import Actors
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Net
import SQLiteStore
import Testing

@testable import App

/// Every protected endpoint, for every role and for no credential at all: 401, 403 or success.
@Suite struct RoleMatrixTests {
    struct Call: Sendable, CustomStringConvertible {
        var method: HTTPRequest.Method
        var path: String
        var json: String?
        /// Roles that succeed; everyone else signed in gets 403.
        var allowed: Set<Role>
        var success: HTTPResponse.Status = .ok
        var description: String { "\(method) \(path)" }
    }

    static let everyone = Set(Role.allCases)
    static let admins: Set<Role> = [.admin]

    /// In an order where each call leaves the next ones meaningful (reads, then writes, logout last).
    static func calls(selfID: String) -> [Call] {
        [
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
            Call(method: .get, path: "/api/policies/pol-mfa-required", allowed: everyone),
            Call(method: .get, path: "/api/organizations", allowed: everyone),
            Call(method: .get, path: "/api/stats", allowed: everyone),
            Call(method: .get, path: "/api/users", allowed: admins),
            Call(method: .post, path: "/api/workspaces/ws-secure-browser/launch", allowed: everyone, success: .created),
            Call(method: .post, path: "/api/workspaces/ws-secure-browser/stop", allowed: everyone),
            Call(method: .post, path: "/api/workspaces/ws-windows-rdp/launch", allowed: [.admin, .neosc], success: .created),
            Call(method: .post, path: "/api/workspaces/ws-admin-panel/launch", allowed: admins, success: .created),
            Call(
                method: .post, path: "/api/workspaces",
                json: #"{"name":"Matrix","type":"linux","url":"/matrix","id":"ws-matrix"}"#, allowed: admins,
                success: .created),
            Call(method: .put, path: "/api/workspaces/ws-secure-browser", json: #"{"cpu":3}"#, allowed: admins),
            Call(method: .delete, path: "/api/workspaces/ws-gpu-workstation", allowed: admins),
            Call(method: .post, path: "/api/workspaces/reset", allowed: admins),
            Call(method: .patch, path: "/api/policies/pol-session-recording", allowed: admins),
            Call(method: .post, path: "/api/organizations", json: #"{"name":"Matrix Org"}"#, allowed: admins, success: .created),
            Call(method: .patch, path: "/api/users/\(selfID)", json: #"{"disabled":false}"#, allowed: admins),
            Call(method: .post, path: "/api/auth/logout", allowed: everyone),
        ]
    }

    @Test(arguments: Role.allCases, StoreKind.allCases)
    func roleGetsExactlyItsRights(_ role: Role, _ store: StoreKind) async throws {
        try await Harness.run(store: store) { harness, client in
            let (user, token) = try await harness.account(role)
            for call in Self.calls(selfID: user.id) {
                let reply = try await client.send(call.method, call.path, token: token, json: call.json)
                let expected: HTTPResponse.Status = call.allowed.contains(role) ? call.success : .forbidden
                #expect(reply.status == expected, "\(role.rawValue): \(call) → \(reply.status.code) \(reply.text)")
                #expect(reply.headers[.contentType]?.hasPrefix("application/json") == true, "\(call)")
            }
            if role != .admin {
                let denied = try await harness.store.events(AuditQuery(action: .accessDenied, limit: 100))
                #expect(denied.count >= 7, "admin-only refusals are audited")
                #expect(denied.allSatisfy { $0.userID == user.id && !$0.success })
            }
        }
    }

    @Test func noCredentialIs401Everywhere() async throws {
        try await Harness.run { _, client in
            for call in Self.calls(selfID: "usr-x") {
                let reply = try await client.send(call.method, call.path, json: call.json)
                #expect(reply.status == .unauthorized, "\(call) → \(reply.status.code)")
                #expect(reply.detail?.isEmpty == false)
            }
            for path in ["/health", "/api/"] {
                #expect(try await client.send(.get, path).status == .ok)
            }
        }
    }
}
