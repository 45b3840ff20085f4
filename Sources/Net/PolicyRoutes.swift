import Domain
import Foundation
import Hummingbird
import Services

/// `/api/policies`: read by anyone signed in; switched on and off by administrators.
struct PolicyRoutes {
    let policies: Policies
    let audit: AuditTrail

    struct Change: Decodable {
        var enabled: Bool?
    }

    func register(on group: RouterGroup<SignedInContext>) {
        group.get(use: list)
        group.get(":id", use: show)
        group.patch(":id", use: toggle)
    }

    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> JSONBody<[Policy]> {
        JSONBody(try await policies.all())
    }

    @Sendable func show(_ request: Request, context: SignedInContext) async throws -> JSONBody<Policy> {
        JSONBody(try await policies.policy(try context.parameters.require("id")))
    }

    /// `{"enabled": bool}` sets it; no body (or no `enabled`) flips it.
    @Sendable func toggle(_ request: Request, context: SignedInContext) async throws -> JSONBody<Policy> {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "change policies", in: context)
        let id = try context.parameters.require("id")
        let change = try await request.decodeOptionalJSON(Change.self, context: context)
        return JSONBody(try await policies.set(id, enabled: change?.enabled, by: .principal(principal), from: context.clientAddress))
    }
}
