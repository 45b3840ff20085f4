import Actors
import Domain
import Foundation
import Hummingbird

/// `/api/workspaces`: the catalogue, its administration, and launching and stopping sessions.
struct WorkspaceRoutes {
    let portal: Portal

    /// The fields an administrator sends to create (name, type and url required) or update (any subset).
    struct Draft: Decodable {
        var id: String?
        var name: String?
        var type: String?
        var description: String?
        var imageURL: String?
        var status: Workspace.Status?
        var cpu: Int?
        var memory: Int?
        var storage: Int?
        var url: String?
        var connectionType: String?
        var launchMode: Workspace.LaunchMode?
        var clientless: Bool?
        var requiresNetbird: Bool?
        var allowedRoles: [Role]?
        var maxSessionMinutes: Int?

        enum CodingKeys: String, CodingKey {
            case id, name, type, description, status, cpu, memory, storage, url, clientless
            case imageURL = "image_url"
            case connectionType = "connection_type"
            case launchMode = "launch_mode"
            case requiresNetbird = "requires_netbird"
            case allowedRoles = "allowed_roles"
            case maxSessionMinutes = "max_session_minutes"
        }

        /// `base` with this draft's fields applied, every field validated.
        func applied(to base: Workspace) throws(DomainError) -> Workspace {
            var workspace = base
            if let name { workspace.name = try Validation.text(name, field: "name", length: WorkspaceLimits.nameLength) }
            if let type {
                workspace.type = try Validation.text(type, field: "type", length: WorkspaceLimits.typeLength)
            }
            if let description {
                workspace.description = try Validation.text(
                    description, field: "description", length: WorkspaceLimits.descriptionLength)
            }
            if let imageURL { workspace.imageURL = try Validation.url(imageURL, field: "image_url") }
            if let status { workspace.status = status }
            if let cpu { workspace.cpu = try Validation.inRange(cpu, WorkspaceLimits.cpu, field: "cpu") }
            if let memory { workspace.memory = try Validation.inRange(memory, WorkspaceLimits.memory, field: "memory") }
            if let storage {
                workspace.storage = try Validation.inRange(storage, WorkspaceLimits.storage, field: "storage")
            }
            if let url { workspace.url = try Validation.url(url, field: "url") }
            if let connectionType {
                workspace.connectionType = try Validation.text(
                    connectionType, field: "connection_type", length: WorkspaceLimits.connectionTypeLength)
            }
            if let launchMode { workspace.launchMode = launchMode }
            if let clientless { workspace.clientless = clientless }
            if let requiresNetbird { workspace.requiresNetbird = requiresNetbird }
            if let allowedRoles {
                workspace.allowedRoles = Role.allCases.filter(allowedRoles.contains)
            }
            if let maxSessionMinutes {
                workspace.maxSessionMinutes = try Validation.inRange(
                    maxSessionMinutes, WorkspaceLimits.maxSessionMinutes, field: "max_session_minutes")
            }
            return workspace
        }
    }

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

    func register(on group: RouterGroup<PortalRequestContext>) {
        group.get(use: list)
        group.post(use: create)
        group.post("reset", use: reset)
        group.get(":id", use: show)
        group.put(":id", use: update)
        group.delete(":id", use: delete)
        group.post(":id/launch", use: launch)
        group.post(":id/stop", use: stop)
    }

    @Sendable func list(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let entries = try await portal.catalogue.entries(from: portal.store)
        let counts = try await portal.activeSessionCounts()
        if let demo = try await portal.demo(of: principal) {
            return WorkspaceCatalogue.response(entries.filter { $0.workspace.id == demo.workspaceID }, counts: counts)
        }
        return WorkspaceCatalogue.response(entries.filter { $0.workspace.isVisible(to: principal.role) }, counts: counts)
    }

    @Sendable func show(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<Listed> {
        let principal = try context.requirePrincipal()
        let workspace = try await existing(context)
        try AccessRules.requireVisible(workspace, to: principal)
        try await portal.requireDemoWorkspace(workspace, for: principal)
        let counts = try await portal.activeSessionCounts()
        return JSONBody(Listed(workspace: workspace, activeSessions: counts[workspace.id] ?? 0))
    }

    @Sendable func create(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<Workspace> {
        let principal = try context.requirePrincipal()
        try await portal.requireAdmin(principal, to: "create workspaces", in: context)
        let draft = try await request.decodeJSON(Draft.self, context: context)
        guard draft.name != nil else { throw DomainError.invalid("Field 'name' is required") }
        guard draft.type != nil else { throw DomainError.invalid("Field 'type' is required") }
        guard draft.url != nil else { throw DomainError.invalid("Field 'url' is required") }
        let id = draft.id ?? Identifier.make("ws")
        guard Identifier.isValidSlug(id) else {
            throw DomainError.invalid("Field 'id' must be 1 to 64 lower-case letters, digits or dashes")
        }
        let now = portal.clock.now()
        let blank = Workspace(
            id: id, name: "", type: "", description: "", imageURL: nil, status: .available, cpu: 2, memory: 4,
            storage: 20, url: "/", connectionType: "https", launchMode: .iframe, clientless: true,
            requiresNetbird: false, allowedRoles: [.admin, .neosc], maxSessionMinutes: 480, createdAt: now,
            updatedAt: now)
        let workspace = try draft.applied(to: blank)
        try await portal.store.insert(workspace)
        await portal.catalogue.invalidate()
        try await portal.audit(
            .createWorkspace, by: principal, in: context, resource: ("workspace", workspace.id),
            details: ["name": workspace.name])
        return JSONBody(workspace, status: .created)
    }

    @Sendable func update(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<Workspace> {
        let principal = try context.requirePrincipal()
        try await portal.requireAdmin(principal, to: "update workspaces", in: context)
        let current = try await existing(context)
        let draft = try await request.decodeJSON(Draft.self, context: context)
        if let id = draft.id, id != current.id {
            throw DomainError.invalid("Field 'id' cannot be changed")
        }
        var workspace = try draft.applied(to: current)
        workspace.updatedAt = portal.clock.now()
        try await portal.store.update(workspace)
        await portal.catalogue.invalidate()
        let changed = Self.changedFields(from: current, to: workspace)
        try await portal.audit(
            .updateWorkspace, by: principal, in: context, resource: ("workspace", workspace.id),
            details: ["fields": changed.joined(separator: ",")])
        return JSONBody(workspace)
    }

    @Sendable func delete(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<[String: String]> {
        let principal = try context.requirePrincipal()
        try await portal.requireAdmin(principal, to: "delete workspaces", in: context)
        let id = try context.parameters.require("id")
        guard let ended = try await portal.store.delete(id: id, ending: .workspaceDeleted, at: portal.clock.now()) else {
            throw DomainError.notFound("Workspace not found")
        }
        await portal.catalogue.invalidate()
        await portal.forget(ended)
        try await portal.audit(
            .deleteWorkspace, by: principal, in: context, resource: ("workspace", id),
            details: ["sessions_terminated": String(ended.count)])
        return JSONBody(["message": "Workspace deleted", "id": id])
    }

    @Sendable func reset(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<Reset> {
        let principal = try context.requirePrincipal()
        try await portal.requireAdmin(principal, to: "reset the workspace catalogue", in: context)
        let now = portal.clock.now()
        let catalogue = DefaultCatalogue.workspaces(at: now)
        let ended = try await portal.store.replaceAll(with: catalogue, ending: .workspacesReset, at: now)
        await portal.catalogue.invalidate()
        await portal.forget(ended)
        try await portal.audit(
            .resetWorkspaces, by: principal, in: context, resource: ("workspace", "*"),
            details: ["workspaces": String(catalogue.count), "sessions_terminated": String(ended.count)])
        return JSONBody(
            Reset(message: "Workspaces reset to the default catalogue", workspaces: catalogue.count,
                sessionsTerminated: ended.count))
    }

    @Sendable func launch(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<Launched> {
        let principal = try context.requirePrincipal()
        let clock = ContinuousClock()
        let started = clock.now
        let workspace = try await existing(context)
        let now = portal.clock.now()
        var session = WorkspaceSession.launch(
            id: Identifier.make("ses"), of: workspace, by: principal, from: context.clientAddress, at: now)
        do {
            try AccessRules.requireLaunchable(workspace, by: principal)
            if let demo = try await portal.requireDemoWorkspace(workspace, for: principal) {
                // A demo's sessions end with the demo (its clean-up ends them); even an extended
                // demo never lets one run past the demo's maximum duration.
                session.expiresAt = min(session.expiresAt ?? demo.maxExpiresAt, demo.maxExpiresAt)
            }
            try await portal.store.start(session, limit: portal.settings.maxSessionsPerUser)
        } catch let refusal as DomainError {
            portal.metrics.launch(succeeded: false, duration: clock.now - started)
            try await portal.audit(
                .launchWorkspace, by: principal, in: context, success: false, resource: ("workspace", workspace.id),
                details: ["reason": refusal.detail])
            throw refusal
        }
        await portal.sessions.started(session)
        await portal.armDeadlines(of: session)
        try await portal.audit(
            .launchWorkspace, by: principal, in: context, resource: ("workspace", workspace.id),
            details: ["session_id": session.id])
        portal.metrics.launch(succeeded: true, duration: clock.now - started)
        return JSONBody(
            Launched(
                sessionID: session.id, session: session, workspace: workspace, connectionURL: workspace.url,
                launchMode: workspace.launchMode, streamURL: workspace.launchMode == .iframe ? workspace.url : nil,
                expiresAt: session.expiresAt),
            status: .created)
    }

    @Sendable func stop(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<Stopped> {
        let principal = try context.requirePrincipal()
        let workspace = try await existing(context)
        guard
            let ended = try await portal.store.end(
                userID: principal.userID, workspaceID: workspace.id, .stopped, at: portal.clock.now())
        else {
            throw DomainError.conflict("You have no active session on this workspace")
        }
        await portal.forget([ended])
        try await portal.audit(
            .stopWorkspace, by: principal, in: context, resource: ("workspace", workspace.id),
            details: ["session_id": ended.id])
        return JSONBody(Stopped(message: "Session stopped", session: ended))
    }

    private func existing(_ context: PortalRequestContext) async throws -> Workspace {
        let id = try context.parameters.require("id")
        guard let workspace = try await portal.store.workspace(id: id) else {
            throw DomainError.notFound("Workspace not found")
        }
        return workspace
    }

    private static func changedFields(from old: Workspace, to new: Workspace) -> [String] {
        var fields: [String] = []
        if old.name != new.name { fields.append("name") }
        if old.type != new.type { fields.append("type") }
        if old.description != new.description { fields.append("description") }
        if old.imageURL != new.imageURL { fields.append("image_url") }
        if old.status != new.status { fields.append("status") }
        if old.cpu != new.cpu || old.memory != new.memory || old.storage != new.storage { fields.append("resources") }
        if old.url != new.url { fields.append("url") }
        if old.connectionType != new.connectionType { fields.append("connection_type") }
        if old.launchMode != new.launchMode { fields.append("launch_mode") }
        if old.clientless != new.clientless { fields.append("clientless") }
        if old.requiresNetbird != new.requiresNetbird { fields.append("requires_netbird") }
        if old.allowedRoles != new.allowedRoles { fields.append("allowed_roles") }
        if old.maxSessionMinutes != new.maxSessionMinutes { fields.append("max_session_minutes") }
        return fields
    }
}
