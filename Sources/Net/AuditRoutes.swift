import Domain
import Hummingbird

/// `/api/audit-logs`: the trail, newest first. Administrators read all; others only their own.
struct AuditRoutes {
    let store: any AuditStore

    func register(on group: RouterGroup<SignedInContext>) {
        group.get(use: list)
    }

    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> JSONBody<[AuditEvent]> {
        let principal = context.principal
        let requestedUser = try request.queryText("user_id")
        let query = AuditQuery(
            action: try request.queryText("action").map { AuditAction($0) },
            userID: principal.isAdmin ? requestedUser : principal.userID,
            success: try request.queryBool("success"),
            since: try request.queryDate("since"),
            until: try request.queryDate("until"),
            limit: try request.queryLimit(maximum: AuditQuery.maximumLimit))
        return JSONBody(try await store.events(query))
    }
}
