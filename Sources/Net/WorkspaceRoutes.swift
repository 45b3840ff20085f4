import Actors
import Domain
import Foundation
import Hummingbird
import Services

/// `/api/workspaces`: the catalogue, its administration, and launching and stopping sessions.
struct WorkspaceRoutes {
    let portal: Portal

    /// A workspace with its live session count.
    struct Listed: Encodable, Sendable {
        var workspace: Workspace
        var activeSessions: Int

        private enum CodingKeys: String, CodingKey { case activeSessions = "active_sessions" }

        func encode(to encoder: any Encoder) throws {
            try workspace.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(activeSessions, forKey: .activeSessions)
        }
    }

    struct Launched: Encodable, Sendable {
        var sessionID: String
        var session: WorkspaceSession
        var workspace: Workspace
        var connectionURL: String
        var launchMode: Workspace.LaunchMode
        var streamURL: String?
        var expiresAt: Date?

        enum CodingKeys: String, CodingKey {
            case session, workspace
            case sessionID = "session_id"
            case connectionURL = "connection_url"
            case launchMode = "launch_mode"
            case streamURL = "stream_url"
            case expiresAt = "expires_at"
        }
    }

    struct Stopped: Encodable, Sendable {
        var message: String
        var session: WorkspaceSession
    }

    struct Reset: Encodable, Sendable {
        var message: String
        var workspaces: Int
        var sessionsTerminated: Int
    }

    func register(on group: RouterGroup<SignedInContext>) {
        group.get(use: list)
        group.post(use: create)
        group.post("reset", use: reset)
        group.get(":id", use: show)
        group.put(":id", use: update)
        group.delete(":id", use: delete)
        group.post(":id/launch", use: launch)
        group.post(":id/stop", use: stop)
    }

    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> Response {
        let principal = context.principal
        let entries = try await portal.catalogue.entries(from: portal.store)
        let counts = try await portal.activeSessionCounts()
        if principal.role == .demoUser {
            // A demo user sees its demo's workspace only; without a demo, none.
            let demo = try await portal.demos.demo(of: principal)
            return WorkspaceCatalogue.response(entries.filter { $0.workspace.id == demo?.workspaceID }, counts: counts)
        }
        return WorkspaceCatalogue.response(entries.filter { $0.workspace.isVisible(to: principal.role) }, counts: counts)
    }

    @Sendable func show(_ request: Request, context: SignedInContext) async throws -> JSONBody<Listed> {
        let principal = context.principal
        let workspace = try await existing(context)
        try AccessRules.requireVisible(workspace, to: principal)
        try await portal.demos.requireWorkspace(workspace, for: principal)
        let counts = try await portal.activeSessionCounts()
        return JSONBody(Listed(workspace: workspace, activeSessions: counts[workspace.id] ?? 0))
    }

    @Sendable func create(_ request: Request, context: SignedInContext) async throws -> JSONBody<Workspace> {
        let principal = context.principal
        try await portal.requireAdmin(principal, to: "create workspaces", in: context)
        let draft = try await request.decodeJSON(WorkspaceDraft.self, context: context)
        let workspace = try draft.newWorkspace(id: Identifier.make("ws"), at: portal.clock.now())
        try await portal.store.insert(workspace)
        await portal.catalogue.invalidate()
        try await portal.audit(
            .createWorkspace, by: .principal(principal), in: context, resource: ("workspace", workspace.id),
            details: ["name": workspace.name])
        return JSONBody(workspace, status: .created)
    }

    @Sendable func update(_ request: Request, context: SignedInContext) async throws -> JSONBody<Workspace> {
        let principal = context.principal
        try await portal.requireAdmin(principal, to: "update workspaces", in: context)
        let current = try await existing(context)
        let draft = try await request.decodeJSON(WorkspaceDraft.self, context: context)
        let workspace = try draft.updating(current, at: portal.clock.now())
        try await portal.store.update(workspace)
        await portal.catalogue.invalidate()
        let changed = WorkspaceDraft.changedFields(from: current, to: workspace)
        try await portal.audit(
            .updateWorkspace, by: .principal(principal), in: context, resource: ("workspace", workspace.id),
            details: ["fields": changed.joined(separator: ",")])
        return JSONBody(workspace)
    }

    @Sendable func delete(_ request: Request, context: SignedInContext) async throws -> JSONBody<[String: String]> {
        let principal = context.principal
        try await portal.requireAdmin(principal, to: "delete workspaces", in: context)
        let id = try context.parameters.require("id")
        guard let ended = try await portal.store.delete(id: id, ending: .workspaceDeleted, at: portal.clock.now()) else {
            throw DomainError.notFound("Workspace not found")
        }
        await portal.catalogue.invalidate()
        await portal.forget(ended)
        try await portal.audit(
            .deleteWorkspace, by: .principal(principal), in: context, resource: ("workspace", id),
            details: ["sessions_terminated": String(ended.count)])
        return JSONBody(["message": "Workspace deleted", "id": id])
    }

    @Sendable func reset(_ request: Request, context: SignedInContext) async throws -> JSONBody<Reset> {
        let principal = context.principal
        try await portal.requireAdmin(principal, to: "reset the workspace catalogue", in: context)
        let now = portal.clock.now()
        let catalogue = DefaultCatalogue.workspaces(at: now)
        let ended = try await portal.store.replaceAll(with: catalogue, ending: .workspacesReset, at: now)
        await portal.catalogue.invalidate()
        await portal.forget(ended)
        try await portal.audit(
            .resetWorkspaces, by: .principal(principal), in: context, resource: ("workspace", "*"),
            details: ["workspaces": String(catalogue.count), "sessions_terminated": String(ended.count)])
        return JSONBody(
            Reset(
                message: "Workspaces reset to the default catalogue", workspaces: catalogue.count,
                sessionsTerminated: ended.count))
    }

    @Sendable func launch(_ request: Request, context: SignedInContext) async throws -> JSONBody<Launched> {
        let principal = context.principal
        let clock = ContinuousClock()
        let started = clock.now
        let workspace = try await existing(context)
        let now = portal.clock.now()
        var session = WorkspaceSession.launch(
            id: Identifier.make("ses"), of: workspace, by: principal, from: context.clientAddress, at: now)
        do {
            try AccessRules.requireLaunchable(workspace, by: principal)
            if let demo = try await portal.demos.requireWorkspace(workspace, for: principal) {
                // A demo's sessions end with the demo (its clean-up ends them); even an extended
                // demo never lets one run past the demo's maximum duration.
                session.expiresAt = min(session.expiresAt ?? demo.maxExpiresAt, demo.maxExpiresAt)
            }
            try await portal.store.start(session, limit: portal.settings.maxSessionsPerUser)
        } catch let refusal as DomainError {
            portal.metrics.launch(succeeded: false, duration: clock.now - started)
            try await portal.audit(
                .launchWorkspace, by: .principal(principal), in: context, success: false, resource: ("workspace", workspace.id),
                details: ["reason": refusal.detail])
            throw refusal
        }
        await portal.sessions.started(session)
        await portal.lifetimes.armDeadlines(of: session)
        try await portal.audit(
            .launchWorkspace, by: .principal(principal), in: context, resource: ("workspace", workspace.id),
            details: ["session_id": session.id])
        portal.metrics.launch(succeeded: true, duration: clock.now - started)
        return JSONBody(
            Launched(
                sessionID: session.id, session: session, workspace: workspace, connectionURL: workspace.url,
                launchMode: workspace.launchMode, streamURL: workspace.launchMode == .iframe ? workspace.url : nil,
                expiresAt: session.expiresAt),
            status: .created)
    }

    @Sendable func stop(_ request: Request, context: SignedInContext) async throws -> JSONBody<Stopped> {
        let principal = context.principal
        let workspace = try await existing(context)
        guard
            let ended = try await portal.store.end(
                userID: principal.userID, workspaceID: workspace.id, .stopped, at: portal.clock.now())
        else {
            throw DomainError.conflict("You have no active session on this workspace")
        }
        await portal.forget([ended])
        try await portal.audit(
            .stopWorkspace, by: .principal(principal), in: context, resource: ("workspace", workspace.id),
            details: ["session_id": ended.id])
        return JSONBody(Stopped(message: "Session stopped", session: ended))
    }

    private func existing(_ context: SignedInContext) async throws -> Workspace {
        let id = try context.parameters.require("id")
        guard let workspace = try await portal.store.workspace(id: id) else {
            throw DomainError.notFound("Workspace not found")
        }
        return workspace
    }
}
