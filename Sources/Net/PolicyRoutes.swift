import Domain
import Foundation
import Hummingbird

/// `/api/policies`: read by anyone signed in; switched on and off by administrators.
struct PolicyRoutes {
    let portal: Portal

    struct Change: Decodable {
        var enabled: Bool?
    }

    func register(on group: RouterGroup<SignedInContext>) {
        group.get(use: list)
        group.get(":id", use: show)
        group.patch(":id", use: toggle)
    }

    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> JSONBody<[Policy]> {
        JSONBody(try await portal.store.policies())
    }

    @Sendable func show(_ request: Request, context: SignedInContext) async throws -> JSONBody<Policy> {
        guard let policy = try await portal.store.policy(id: try context.parameters.require("id")) else {
            throw DomainError.notFound("Policy not found")
        }
        return JSONBody(policy)
    }

    /// `{"enabled": bool}` sets it; no body (or no `enabled`) flips it.
    @Sendable func toggle(_ request: Request, context: SignedInContext) async throws -> JSONBody<Policy> {
        let principal = context.principal
        try await portal.requireAdmin(principal, to: "change policies", in: context)
        let id = try context.parameters.require("id")
        let change = try await request.decodeOptionalJSON(Change.self, context: context)
        guard let policy = try await portal.store.setEnabled(id: id, change?.enabled, at: portal.clock.now()) else {
            throw DomainError.notFound("Policy not found")
        }
        try await portal.audit(
            .togglePolicy, by: .principal(principal), in: context, resource: ("policy", id),
            details: ["enabled": String(policy.enabled)])
        return JSONBody(policy)
    }
}
