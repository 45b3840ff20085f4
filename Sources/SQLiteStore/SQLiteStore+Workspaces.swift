import Domain
import Foundation
import SQLiteNIO

extension SQLiteStore: WorkspaceStore {
    public func workspaces() async throws -> [Workspace] {
        try await read { try await $0.rows("SELECT * FROM workspaces ORDER BY rowid").map(Self.workspace) }
    }

    public func workspace(id: String) async throws -> Workspace? {
        try await read {
            try await $0.rows("SELECT * FROM workspaces WHERE id = ?", [.text(id)]).first.map(Self.workspace)
        }
    }

    public func insert(_ workspace: Workspace) async throws {
        try await write { try await Self.insert(workspace, on: $0) }
    }

    public func update(_ workspace: Workspace) async throws {
        try await write { connection in
            let changed = try await connection.changedRows(
                """
                UPDATE workspaces SET name = ?, type = ?, description = ?, image_url = ?, status = ?, cpu = ?,
                    memory = ?, storage = ?, url = ?, connection_type = ?, launch_mode = ?, clientless = ?,
                    requires_netbird = ?, allowed_roles = ?, max_session_minutes = ?, updated_at = ?,
                    stream_upstream = ?
                WHERE id = ? RETURNING 1
                """,
                Array(try Self.columns(of: workspace).dropFirst().dropLast(3))
                    + [.init(workspace.updatedAt), .init(workspace.streamUpstream), .text(workspace.id)])
            guard changed == 1 else { throw DomainError.notFound("Workspace not found") }
        }
    }

    public func delete(id: String, ending: SessionEnding, at now: Date) async throws -> [WorkspaceSession]? {
        try await write { connection in
            guard try await connection.changedRows("DELETE FROM workspaces WHERE id = ? RETURNING 1", [.text(id)]) == 1
            else { return nil }
            return try await Self.endActive(where: "workspace_id = ?", [.text(id)], ending, at: now, on: connection)
        }
    }

    public func replaceAll(
        with catalogue: [Workspace], ending: SessionEnding, at now: Date
    ) async throws
        -> [WorkspaceSession]
    {
        try await write { connection in
            try await connection.execute("DELETE FROM workspaces")
            for workspace in catalogue {
                try await Self.insert(workspace, on: connection)
            }
            return try await Self.endActive(
                where: "workspace_id NOT IN (SELECT id FROM workspaces)", [], ending, at: now, on: connection)
        }
    }

    static func insert(_ workspace: Workspace, on connection: SQLiteConnection) async throws {
        do {
            try await connection.execute(
                """
                INSERT INTO workspaces (id, name, type, description, image_url, status, cpu, memory, storage, url,
                    connection_type, launch_mode, clientless, requires_netbird, allowed_roles, max_session_minutes,
                    created_at, updated_at, stream_upstream)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, try columns(of: workspace))
        } catch let error as SQLiteError where error.isConstraintViolation {
            throw DomainError.conflict("A workspace with this id already exists")
        }
    }

    /// The workspace's columns in table order (id first; created_at, updated_at and
    /// stream_upstream last).
    private static func columns(of workspace: Workspace) throws -> [SQLiteData] {
        [
            .text(workspace.id), .text(workspace.name), .text(workspace.type), .text(workspace.description),
            .init(workspace.imageURL), .text(workspace.status.rawValue), .init(workspace.cpu), .init(workspace.memory),
            .init(workspace.storage), .text(workspace.url), .text(workspace.connectionType),
            .text(workspace.launchMode.rawValue), .init(workspace.clientless), .init(workspace.requiresNetbird),
            try .json(workspace.allowedRoles), .init(workspace.maxSessionMinutes), .init(workspace.createdAt),
            .init(workspace.updatedAt), .init(workspace.streamUpstream),
        ]
    }

    static func workspace(_ row: SQLiteRow) throws -> Workspace {
        guard let status = Workspace.Status(rawValue: try row.string("status")) else {
            throw CorruptRow(column: "status")
        }
        guard let launchMode = Workspace.LaunchMode(rawValue: try row.string("launch_mode")) else {
            throw CorruptRow(column: "launch_mode")
        }
        return Workspace(
            id: try row.string("id"), name: try row.string("name"), type: try row.string("type"),
            description: try row.string("description"), imageURL: row.optionalString("image_url"), status: status,
            cpu: try row.int("cpu"), memory: try row.int("memory"), storage: try row.int("storage"),
            url: try row.string("url"), connectionType: try row.string("connection_type"), launchMode: launchMode,
            clientless: try row.bool("clientless"), requiresNetbird: try row.bool("requires_netbird"),
            allowedRoles: try row.decoded([Role].self, json: "allowed_roles"),
            maxSessionMinutes: try row.int("max_session_minutes"), createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"), streamUpstream: row.optionalString("stream_upstream"))
    }
}
