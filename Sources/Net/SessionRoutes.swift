import Domain
import Hummingbird
import Services

/// `/api/sessions`: a user's own sessions (administrators: everyone's), disconnecting them and
/// keeping them alive; the rules are `Services.WorkspaceSessions`'. Written by `SessionWriter`.
struct SessionRoutes {
    let sessions: WorkspaceSessions

    func register(on group: RouterGroup<SignedInContext>) {
        group.get(use: list)
        group.get("active", use: active)
        group.get(":id", use: show)
        group.post(":id/disconnect", use: disconnect)
        group.post(":id/heartbeat", use: heartbeat)
    }

    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> WrittenJSON {
        let status = try request.queryText("status").map { text throws(DomainError) in
            guard let status = SessionStatus(rawValue: text) else {
                throw .invalid("Query parameter 'status' must be one of active, disconnected, terminated, expired")
            }
            return status
        }
        return .sessions(try await listed(request, context: context, status: status))
    }

    @Sendable func active(_ request: Request, context: SignedInContext) async throws -> WrittenJSON {
        .sessions(try await listed(request, context: context, status: .active))
    }

    @Sendable func show(_ request: Request, context: SignedInContext) async throws -> WrittenJSON {
        .session(try await sessions.session(try context.parameters.require("id"), visibleTo: context.principal))
    }

    @Sendable func disconnect(_ request: Request, context: SignedInContext) async throws -> WrittenJSON {
        .session(try await sessions.disconnect(try context.parameters.require("id"), by: context.principal, from: context.clientAddress))
    }

    @Sendable func heartbeat(_ request: Request, context: SignedInContext) async throws -> WrittenJSON {
        .session(try await sessions.heartbeat(try context.parameters.require("id"), by: context.principal))
    }

    private func listed(_ request: Request, context: SignedInContext, status: SessionStatus?) async throws -> [WorkspaceSession] {
        // Checked for everyone (a bad value is 422 whoever sends it), used for administrators only.
        let requestedUser = try request.queryID("user_id")
        return try await sessions.sessions(
            visibleTo: context.principal, userID: context.principal.isAdmin ? requestedUser : nil, status: status,
            limit: try request.queryLimit())
    }
}
