import Actors
import Domain
import Hummingbird
import Services

/// `/api/users`: administrators list users and change their role or disable them.
struct UserRoutes {
    let users: UserAdministration
    let store: any Store
    let audit: AuditTrail

    struct Change: Decodable {
        var role: Role?
        var disabled: Bool?
    }

    func register(on group: RouterGroup<SignedInContext>) {
        group.get(use: list)
        group.patch(":id", use: update)
    }

    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> JSONBody<[UserView]> {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "list users", in: context)
        let users = try await store.users(limit: try request.queryLimit(), offset: try request.queryOffset())
        let organizations = Dictionary(
            try await store.organizations().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        return JSONBody(users.map { UserView($0, organization: $0.organizationID.flatMap { organizations[$0] }) })
    }

    /// Role changes and disabling take effect on the account's very next request (see
    /// `UserAdministration.change`).
    @Sendable func update(_ request: Request, context: SignedInContext) async throws -> JSONBody<UserView> {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "change users", in: context)
        let change = try await request.decodeJSON(Change.self, context: context)
        let user = try await users.change(
            userID: try context.parameters.require("id"), .init(role: change.role, disabled: change.disabled),
            by: .principal(principal), from: context.clientAddress)
        let organization = try await user.organizationID.asyncFlatMap { try await store.organization(id: $0) }
        return JSONBody(UserView(user, organization: organization))
    }
}
