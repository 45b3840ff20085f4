import Domain
import Foundation
import Hummingbird

/// `/api/organizations`: administrators see and create all; others see their own.
struct OrganizationRoutes {
    let portal: Portal

    struct Draft: Decodable {
        var name: String
        var domain: String?
    }

    func register(on group: RouterGroup<SignedInContext>) {
        group.get(use: list)
        group.post(use: create)
    }

    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> JSONBody<[Organization]> {
        let principal = context.principal
        if principal.isAdmin {
            return JSONBody(try await portal.store.organizations())
        }
        guard let id = principal.organizationID, let own = try await portal.store.organization(id: id) else {
            return JSONBody([])
        }
        return JSONBody([own])
    }

    @Sendable func create(_ request: Request, context: SignedInContext) async throws -> JSONBody<Organization> {
        let principal = context.principal
        try await portal.requireAdmin(principal, to: "create organizations", in: context)
        let draft = try await request.decodeJSON(Draft.self, context: context)
        let organization = Organization(
            id: Identifier.make("org"), name: try Validation.text(draft.name, field: "name"),
            domain: try draft.domain.map { raw throws(DomainError) in try Validation.domain(raw) },
            createdAt: portal.clock.now())
        try await portal.store.insert(organization)
        try await portal.audit(
            .createOrganization, by: .principal(principal), in: context, resource: ("organization", organization.id),
            details: ["name": organization.name])
        return JSONBody(organization, status: .created)
    }
}
