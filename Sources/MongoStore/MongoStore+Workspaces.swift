import Domain
import Foundation

extension MongoStore: WorkspaceStore {
    public func workspaces() async throws -> [Workspace] {
        try await database.find("workspaces", [:], sort: ["position": .int(1), "_id": .int(1)]).map(Self.workspace)
    }

    public func workspace(id: String) async throws -> Workspace? {
        try await database.findOne("workspaces", ["_id": .string(id)]).map(Self.workspace)
    }

    public func insert(_ workspace: Workspace) async throws {
        // After the catalogue (positions 0…n), in creation order.
        try await insert(workspace, position: Int(workspace.createdAt.timeIntervalSince1970 * 1_000))
    }

    func insert(_ workspace: Workspace, position: Int) async throws {
        var document = Self.document(workspace)
        document["position"] = .int(position)
        do {
            try await database.insert("workspaces", document)
        } catch let failure as MongoFailure where failure.isDuplicateKey {
            throw DomainError.conflict("A workspace with this id already exists")
        }
    }

    public func update(_ workspace: Workspace) async throws {
        var fields = Self.document(workspace)
        fields["_id"] = nil
        fields["created_at"] = nil
        let result = try await database.update("workspaces", ["_id": .string(workspace.id)], ["$set": .document(fields)])
        guard result.matched == 1 else { throw DomainError.notFound("Workspace not found") }
    }

    public func delete(id: String, ending: SessionEnding, at now: Date) async throws -> [WorkspaceSession]? {
        guard try await database.delete("workspaces", ["_id": .string(id)]) == 1 else { return nil }
        return try await endActive(["workspace_id": .string(id)], ending, at: now)
    }

    public func replaceAll(
        with catalogue: [Workspace], ending: SessionEnding, at now: Date
    ) async throws
        -> [WorkspaceSession]
    {
        // Idempotent steps: a reset interrupted half-way is finished by running it again.
        _ = try await database.delete("workspaces", [:], many: true)
        for (position, workspace) in catalogue.enumerated() {
            try await insert(workspace, position: position)
        }
        return try await endActive(
            ["workspace_id": .document(["$nin": .array(catalogue.map { .string($0.id) })])], ending, at: now)
    }

    static func document(_ workspace: Workspace) -> BSONDocument {
        [
            "_id": .string(workspace.id), "name": .string(workspace.name), "type": .string(workspace.type),
            "description": .string(workspace.description), "image_url": .optional(workspace.imageURL),
            "status": .string(workspace.status.rawValue), "cpu": .int(workspace.cpu), "memory": .int(workspace.memory),
            "storage": .int(workspace.storage), "url": .string(workspace.url),
            "connection_type": .string(workspace.connectionType), "launch_mode": .string(workspace.launchMode.rawValue),
            "clientless": .bool(workspace.clientless), "requires_netbird": .bool(workspace.requiresNetbird),
            "allowed_roles": .array(workspace.allowedRoles.map { .string($0.rawValue) }),
            "max_session_minutes": .int(workspace.maxSessionMinutes), "created_at": .date(workspace.createdAt),
            "updated_at": .date(workspace.updatedAt), "stream_upstream": .optional(workspace.streamUpstream),
        ]
    }

    static func workspace(_ document: BSONDocument) throws -> Workspace {
        guard let status = Workspace.Status(rawValue: try document.string("status")) else {
            throw CorruptDocument(field: "status")
        }
        guard let launchMode = Workspace.LaunchMode(rawValue: try document.string("launch_mode")) else {
            throw CorruptDocument(field: "launch_mode")
        }
        guard let roles = document["allowed_roles"]?.array?.map({ $0.string.flatMap(Role.init(rawValue:)) }),
            !roles.contains(nil)
        else { throw CorruptDocument(field: "allowed_roles") }
        return Workspace(
            id: try document.string("_id"), name: try document.string("name"), type: try document.string("type"),
            description: try document.string("description"), imageURL: document.optionalString("image_url"),
            status: status, cpu: try document.int("cpu"), memory: try document.int("memory"),
            storage: try document.int("storage"), url: try document.string("url"),
            connectionType: try document.string("connection_type"), launchMode: launchMode,
            clientless: try document.bool("clientless"), requiresNetbird: try document.bool("requires_netbird"),
            allowedRoles: roles.compactMap { $0 }, maxSessionMinutes: try document.int("max_session_minutes"),
            createdAt: try document.date("created_at"), updatedAt: try document.date("updated_at"),
            streamUpstream: document.optionalString("stream_upstream"))
    }
}
