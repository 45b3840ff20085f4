import Actors
import Domain
import Foundation

/// The workspace catalogue as administrators change it: create, update, delete, reset to the
/// default catalogue. Deleting a workspace (or a reset removing it) ends its active sessions.
/// Every change is audited and announced through `catalogueChanged`, so caches of the catalogue
/// (the API's pre-encoded list) drop what they hold. Whether the caller may is the caller's check.
public struct WorkspaceAdministration: Sendable {
    /// A reset's outcome: how many workspaces the catalogue now holds, how many sessions ended.
    public struct Reset: Sendable {
        public let workspaces: Int
        public let sessionsTerminated: Int
    }

    private let store: any Store
    private let registry: SessionRegistry
    private let audit: AuditTrail
    private let clock: WallClock
    /// The upstreams a workspace's `stream_upstream` may name (`NEOSC_STREAM_UPSTREAMS`).
    public let streamUpstreams: StreamUpstreamAllowlist
    private let catalogueChanged: @Sendable () async -> Void

    public init(
        store: any Store, registry: SessionRegistry, audit: AuditTrail, clock: WallClock,
        streamUpstreams: StreamUpstreamAllowlist, catalogueChanged: @escaping @Sendable () async -> Void
    ) {
        self.store = store
        self.registry = registry
        self.audit = audit
        self.clock = clock
        self.streamUpstreams = streamUpstreams
        self.catalogueChanged = catalogueChanged
    }

    /// A new workspace from `draft` (its id chosen or generated); 409 if the id is taken.
    public func create(_ draft: WorkspaceDraft, by actor: AuditActor, from address: String?) async throws -> Workspace {
        let workspace = try draft.newWorkspace(id: Identifier.make("ws"), at: clock.now(), upstreams: streamUpstreams)
        try await audit.change {
            try await store.insert(workspace)
            try await audit.record(
                .createWorkspace, by: actor, from: address, resource: ("workspace", workspace.id), details: ["name": workspace.name])
        }
        await catalogueChanged()
        return workspace
    }

    /// Workspace `id` with the fields the draft carries changed; the audit entry names them.
    /// The draft is read (`read`) only once the workspace is known to exist, so an unknown id is a
    /// 404 whatever was sent.
    public func update(
        _ id: String, by actor: AuditActor, from address: String?, reading read: () async throws -> WorkspaceDraft
    ) async throws -> Workspace {
        guard try await store.workspace(id: id) != nil else { throw DomainError.notFound("Workspace not found") }
        let draft = try await read()
        let now = clock.now()
        let (workspace, ended): (Workspace, [WorkspaceSession]) = try await audit.change {
            // Applied to the workspace as it stands inside the change: one changed meanwhile is not
            // written back over, and what this change takes away is judged against it.
            guard let current = try await store.workspace(id: id) else { throw DomainError.notFound("Workspace not found") }
            let workspace = try draft.updating(current, at: now, upstreams: streamUpstreams)
            let changed = WorkspaceDraft.changedFields(from: current, to: workspace)
            // Asking for what already holds changes nothing, so nothing is written or audited.
            guard !changed.isEmpty else { return (current, []) }
            try await store.update(workspace)
            var details = ["fields": changed.joined(separator: ",")]
            // Roles taken away take effect on the sessions running too (an administrator may use
            // every workspace: taking `admin` away ends nothing).
            var ended: [WorkspaceSession] = []
            if !Set(current.allowedRoles).subtracting(workspace.allowedRoles).subtracting([.admin]).isEmpty {
                ended = try await SessionsOutlivingAccess.end(on: workspace, in: store, at: now)
                if !ended.isEmpty { details["sessions_terminated"] = String(ended.count) }
            }
            try await audit.record(.updateWorkspace, by: actor, from: address, resource: ("workspace", workspace.id), details: details)
            return (workspace, ended)
        }
        await catalogueChanged()
        if !ended.isEmpty { await registry.ended(ended) }
        return workspace
    }

    /// Deletes workspace `id`, ending its active sessions (`terminated`, `workspace_deleted`);
    /// answers how many ended.
    public func delete(_ id: String, by actor: AuditActor, from address: String?) async throws -> Int {
        let ended = try await audit.change {
            guard let ended = try await store.delete(id: id, ending: .workspaceDeleted, at: clock.now()) else {
                throw DomainError.notFound("Workspace not found")
            }
            try await audit.record(
                .deleteWorkspace, by: actor, from: address, resource: ("workspace", id),
                details: ["sessions_terminated": String(ended.count)])
            return ended
        }
        await catalogueChanged()
        if !ended.isEmpty { await registry.ended(ended) }
        return ended.count
    }

    /// Replaces the catalogue with the default one. Active sessions of workspaces it removes end
    /// (`terminated`, `workspaces_reset`), and so do those of workspaces it keeps whose owners'
    /// roles the default no longer admits (`access_revoked`, as a `PUT` that takes a role away);
    /// the others go on.
    public func reset(by actor: AuditActor, from address: String?) async throws -> Reset {
        let now = clock.now()
        let catalogue = DefaultCatalogue.workspaces(at: now)
        let ended = try await audit.change {
            let removed = try await store.replaceAll(with: catalogue, ending: .workspacesReset, at: now)
            let ended = removed + (try await SessionsOutlivingAccess.end(onAnyOf: catalogue, in: store, at: now))
            try await audit.record(
                .resetWorkspaces, by: actor, from: address, resource: ("workspace", "*"),
                details: ["workspaces": String(catalogue.count), "sessions_terminated": String(ended.count)])
            return ended
        }
        await catalogueChanged()
        if !ended.isEmpty { await registry.ended(ended) }
        return Reset(workspaces: catalogue.count, sessionsTerminated: ended.count)
    }
}
