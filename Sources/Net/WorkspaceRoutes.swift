import Actors
import Domain
import Foundation
import Hummingbird
import NIOCore
import Services

/// `/api/workspaces`: the catalogue, its administration, and launching and stopping sessions.
struct WorkspaceRoutes {
    let catalogue: WorkspaceCatalogue
    let store: any WorkspaceStore
    let administration: WorkspaceAdministration
    let sessions: WorkspaceSessions
    let demos: DemoLifecycle
    let audit: AuditTrail

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

    /// What `Launched` and `Stopped` encode to, written as `PortalJSON.encoder` writes them (keys
    /// sorted, absent optionals left out; tested byte for byte): the session by `SessionWriter`,
    /// the workspace as `workspaceJSON` (the catalogue's encoding, `WorkspaceCatalogue.json(of:)`)
    /// or, when there is none, by the encoder.
    static func write(_ launched: Launched, workspaceJSON: [UInt8]? = nil, into buffer: inout ByteBuffer) throws {
        buffer.writeStaticString("{\"connection_url\":")
        AuditEventWriter.writeString(launched.connectionURL, into: &buffer)
        if let expires = launched.expiresAt {
            buffer.writeStaticString(",\"expires_at\":\"")
            AuditEventWriter.writeTimestamp(expires, into: &buffer)
            buffer.writeInteger(UInt8(ascii: "\""))
        }
        AuditEventWriter.writeField(",\"launch_mode\":", launched.launchMode.rawValue, into: &buffer)
        buffer.writeStaticString(",\"session\":")
        SessionWriter.write(launched.session, into: &buffer)
        AuditEventWriter.writeField(",\"session_id\":", launched.sessionID, into: &buffer)
        AuditEventWriter.writeField(",\"stream_url\":", launched.streamURL, into: &buffer)
        buffer.writeStaticString(",\"workspace\":")
        if let workspaceJSON {
            buffer.writeBytes(workspaceJSON)
        } else {
            buffer.writeBytes(try PortalJSON.encoder.encode(launched.workspace))
        }
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    static func write(_ stopped: Stopped, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("{\"message\":")
        AuditEventWriter.writeString(stopped.message, into: &buffer)
        buffer.writeStaticString(",\"session\":")
        SessionWriter.write(stopped.session, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "}"))
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
        let counts = try await sessions.activeCountsByWorkspace()
        if principal.role == .demoUser {
            // A demo user sees its demo's workspace only; without a demo, none.
            let demo = try await demos.demo(of: principal)
            return try await catalogue.answer(from: store, counts: counts) { DemoAccess.shows($0.workspace, to: demo) }
        }
        return try await catalogue.answer(for: principal.role, from: store, counts: counts)
    }

    @Sendable func show(_ request: Request, context: SignedInContext) async throws -> JSONBody<Listed> {
        let principal = context.principal
        let id = try context.parameters.require("id")
        guard let workspace = try await store.workspace(id: id) else { throw DomainError.notFound("Workspace not found") }
        try AccessRules.requireVisible(workspace, to: principal)
        try await demos.requireWorkspace(workspace, for: principal)
        let counts = try await sessions.activeCountsByWorkspace()
        return JSONBody(Listed(workspace: workspace, activeSessions: counts[workspace.id] ?? 0))
    }

    @Sendable func create(_ request: Request, context: SignedInContext) async throws -> JSONBody<Workspace> {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "create workspaces", in: context)
        let draft = try await request.decodeJSON(WorkspaceDraft.self, context: context)
        let workspace = try await administration.create(draft, by: .principal(principal), from: context.clientAddress)
        return JSONBody(workspace, status: .created)
    }

    @Sendable func update(_ request: Request, context: SignedInContext) async throws -> JSONBody<Workspace> {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "update workspaces", in: context)
        let updated = try await administration.update(
            try context.parameters.require("id"), by: .principal(principal), from: context.clientAddress
        ) { try await request.decodeJSON(WorkspaceDraft.self, context: context) }
        return JSONBody(updated)
    }

    @Sendable func delete(_ request: Request, context: SignedInContext) async throws -> JSONBody<[String: String]> {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "delete workspaces", in: context)
        let id = try context.parameters.require("id")
        _ = try await administration.delete(id, by: .principal(principal), from: context.clientAddress)
        return JSONBody(["message": "Workspace deleted", "id": id])
    }

    @Sendable func reset(_ request: Request, context: SignedInContext) async throws -> JSONBody<Reset> {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "reset the workspace catalogue", in: context)
        let reset = try await administration.reset(by: .principal(principal), from: context.clientAddress)
        return JSONBody(
            Reset(
                message: "Workspaces reset to the default catalogue", workspaces: reset.workspaces,
                sessionsTerminated: reset.sessionsTerminated))
    }

    @Sendable func launch(_ request: Request, context: SignedInContext) async throws -> WrittenJSON {
        let launch = try await sessions.launch(
            try context.parameters.require("id"), by: context.principal, from: context.clientAddress)
        let (session, workspace) = (launch.session, launch.workspace)
        let workspaceJSON = await catalogue.json(of: workspace, from: store)
        return try .written(
            Launched(
                sessionID: session.id, session: session, workspace: workspace, connectionURL: workspace.url,
                launchMode: workspace.launchMode, streamURL: workspace.launchMode == .iframe ? workspace.url : nil,
                expiresAt: session.expiresAt),
            capacity: 2_048, status: .created
        ) { launched, buffer in try Self.write(launched, workspaceJSON: workspaceJSON, into: &buffer) }
    }

    @Sendable func stop(_ request: Request, context: SignedInContext) async throws -> WrittenJSON {
        let ended = try await sessions.stop(try context.parameters.require("id"), by: context.principal, from: context.clientAddress)
        return .written(Stopped(message: "Session stopped", session: ended), capacity: 1_024, by: Self.write)
    }
}

/// A workspace's `POST` and `PUT` body refuses a key it does not have (422 naming it): a misspelt
/// `allowed_role` would otherwise leave the default roles, `admin` and `neosc`, in its place. The
/// read-only keys a `GET` shows are taken and ignored, so that a workspace read, edited and sent
/// back is accepted.
extension WorkspaceDraft: ClosedJSONObject {
    static let fields: Set<String> = [
        "id", "name", "type", "description", "image_url", "status", "cpu", "memory", "storage", "url", "connection_type",
        "launch_mode", "clientless", "requires_netbird", "allowed_roles", "max_session_minutes", "stream_upstream",
        "created_at", "updated_at", "active_sessions",
    ]
}
