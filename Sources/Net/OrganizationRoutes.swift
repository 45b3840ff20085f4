import Domain
import Foundation
import Hummingbird
import Services

/// `/api/organizations`: administrators see and create all; others see their own.
struct OrganizationRoutes {
    let organizations: Organizations
    let audit: AuditTrail

    struct Draft: ClosedJSONObject {
        var name: String
        var domain: String?

        enum CodingKeys: String, CodingKey, CaseIterable { case name, domain }
        static let fields = Set(CodingKeys.allCases.map(\.rawValue))
    }

    func register(on group: RouterGroup<SignedInContext>) {
        group.get(use: list)
        group.post(use: create)
    }

    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> JSONBody<[Organization]> {
        JSONBody(try await organizations.visible(to: context.principal))
    }

    @Sendable func create(_ request: Request, context: SignedInContext) async throws -> JSONBody<Organization> {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "create organizations", in: context)
        let draft = try await request.decodeJSON(Draft.self, context: context)
        let organization = try await organizations.create(
            name: draft.name, domain: draft.domain, by: .principal(principal), from: context.clientAddress)
        return JSONBody(organization, status: .created)
    }
}
