import Actors
import Domain
import Hummingbird

/// `/api/sessions`: a user's own sessions (administrators: everyone's) and disconnecting them.
struct SessionRoutes {
    let portal: Portal

    func register(on group: RouterGroup<SignedInContext>) {
        group.get(use: list)
        group.get("active", use: active)
        group.get(":id", use: show)
        group.post(":id/disconnect", use: disconnect)
        group.post(":id/heartbeat", use: heartbeat)
    }

    /// The client is still there: moves `last_seen_at`, so the idle deadline moves with it.
    /// Heartbeats are liveness, not changes of state, and are not audited.
    @Sendable func heartbeat(_ request: Request, context: SignedInContext) async throws -> JSONBody<WorkspaceSession> {
        let principal = context.principal
        let session = try await existing(context, for: principal)
        guard let touched = try await portal.store.touch(id: session.id, at: portal.clock.now()) else {
            throw DomainError.conflict("Session is not active (it is \(session.status.rawValue))")
        }
        return JSONBody(touched)
    }

    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> JSONBody<[WorkspaceSession]> {
        let principal = context.principal
        let status = try request.queryText("status").map { text throws(DomainError) in
            guard let status = SessionStatus(rawValue: text) else {
                throw .invalid("Query parameter 'status' must be one of active, disconnected, terminated, expired")
            }
            return status
        }
        return JSONBody(try await sessions(of: principal, request: request, status: status))
    }

    @Sendable func active(_ request: Request, context: SignedInContext) async throws -> JSONBody<[WorkspaceSession]> {
        let principal = context.principal
        return JSONBody(try await sessions(of: principal, request: request, status: .active))
    }

    @Sendable func show(_ request: Request, context: SignedInContext) async throws -> JSONBody<WorkspaceSession> {
        let principal = context.principal
        return JSONBody(try await existing(context, for: principal))
    }

    @Sendable func disconnect(
        _ request: Request, context: SignedInContext
    ) async throws
        -> JSONBody<WorkspaceSession>
    {
        let principal = context.principal
        let session = try await existing(context, for: principal)
        guard let ended = try await portal.store.end(id: session.id, .disconnected, at: portal.clock.now()) else {
            throw DomainError.conflict("Session is not active (it is \(session.status.rawValue))")
        }
        await portal.forget([ended])
        try await portal.audit(
            .disconnectSession, by: .principal(principal), in: context, resource: ("session", ended.id),
            details: ["owner": ended.userID, "workspace_id": ended.workspaceID])
        return JSONBody(ended)
    }

    /// Administrators see everyone's (optionally one user's via `user_id`); others only their own.
    private func sessions(
        of principal: Principal, request: Request, status: SessionStatus?
    ) async throws
        -> [WorkspaceSession]
    {
        let userID = principal.isAdmin ? try request.queryText("user_id") : principal.userID
        return try await portal.store.sessions(userID: userID, status: status, limit: try request.queryLimit())
    }

    private func existing(_ context: SignedInContext, for principal: Principal) async throws -> WorkspaceSession {
        let id = try context.parameters.require("id")
        guard let session = try await portal.store.session(id: id) else {
            throw DomainError.notFound("Session not found")
        }
        try AccessRules.requireOwnerOrAdmin(of: session, principal)
        return session
    }
}
