import Domain
import Foundation

/// Ends the active sessions a change of role leaves without access (`AccessRules.outlivesAccess`:
/// `terminated`, `access_revoked`), inside the caller's change, so that they end with the change
/// and its entry. The caller hands what ended to the session registry, which cuts their streams.
enum SessionsOutlivingAccess {
    /// `user`'s sessions on workspaces its (new) role may not use.
    static func end(of user: User, in store: any Store, at now: Date) async throws -> [WorkspaceSession] {
        var workspaces: [String: Workspace?] = [:]
        var ended: [WorkspaceSession] = []
        for session in try await store.sessions(userID: user.id, status: .active, limit: Int.max) {
            if workspaces[session.workspaceID] == nil {
                workspaces[session.workspaceID] = .some(try await store.workspace(id: session.workspaceID))
            }
            guard AccessRules.outlivesAccess(session, workspace: workspaces[session.workspaceID] ?? nil, ownerRole: user.role),
                let done = try await store.end(id: session.id, .accessRevoked, at: now)
            else { continue }
            ended.append(done)
        }
        return ended
    }

    /// The sessions on `workspace` (as changed) whose owner's role it no longer admits.
    static func end(on workspace: Workspace, in store: any Store, at now: Date) async throws -> [WorkspaceSession] {
        try await end(onAnyOf: [workspace], in: store, at: now)
    }

    /// The sessions on any of `workspaces` (as changed: a catalogue reset) whose owner's role the
    /// workspace no longer admits; sessions on other workspaces are left alone.
    static func end(onAnyOf workspaces: [Workspace], in store: any Store, at now: Date) async throws -> [WorkspaceSession] {
        let byID = Dictionary(workspaces.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let running = try await store.sessions(userID: nil, status: .active, limit: Int.max).filter { byID[$0.workspaceID] != nil }
        // The owners in one read, not one each.
        let roles = Dictionary(
            try await store.users(ids: Array(Set(running.map(\.userID)))).map { ($0.id, $0.role) }, uniquingKeysWith: { first, _ in first })
        var ended: [WorkspaceSession] = []
        for session in running {
            guard AccessRules.outlivesAccess(session, workspace: byID[session.workspaceID], ownerRole: roles[session.userID]),
                let done = try await store.end(id: session.id, .accessRevoked, at: now)
            else { continue }
            ended.append(done)
        }
        return ended
    }
}
