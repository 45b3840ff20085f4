import Actors
import Domain
import Hummingbird

/// `/api/users`: administrators list users and change their role or disable them.
struct UserRoutes {
    let portal: Portal

    struct Change: Decodable {
        var role: Role?
        var disabled: Bool?
    }

    func register(on group: RouterGroup<PortalRequestContext>) {
        group.get(use: list)
        group.patch(":id", use: update)
    }

    @Sendable func list(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<[UserView]> {
        let principal = try context.requirePrincipal()
        try await portal.requireAdmin(principal, to: "list users", in: context)
        let users = try await portal.store.users(limit: try request.queryLimit(), offset: try request.queryOffset())
        let organizations = Dictionary(
            try await portal.store.organizations().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        return JSONBody(users.map { UserView($0, organization: $0.organizationID.flatMap { organizations[$0] }) })
    }

    /// Role changes and disabling take effect on the caller's very next request: the token cache is
    /// evicted, and disabling also revokes every token and ends every session.
    @Sendable func update(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<UserView> {
        let principal = try context.requirePrincipal()
        try await portal.requireAdmin(principal, to: "change users", in: context)
        let change = try await request.decodeJSON(Change.self, context: context)
        guard change.role != nil || change.disabled != nil else {
            throw DomainError.invalid("Send at least one of 'role' and 'disabled'")
        }
        let id = try context.parameters.require("id")
        guard var user = try await portal.store.user(id: id) else { throw DomainError.notFound("User not found") }
        let before = user
        let role = change.role ?? user.role
        let disabled = change.disabled ?? user.disabled
        try AccessRules.requireAdminRemains(
            changing: user, toRole: role, disabled: disabled, activeAdmins: try await portal.store.activeAdminCount())

        let now = portal.clock.now()
        user.role = role
        user.disabled = disabled
        user.updatedAt = now
        try await portal.store.update(user)
        await portal.tokenCache.evict(userID: user.id)

        var details: [String: String] = [:]
        if before.role != user.role { details["role"] = "\(before.role.rawValue)->\(user.role.rawValue)" }
        if before.disabled != user.disabled { details["disabled"] = String(user.disabled) }
        if user.disabled && !before.disabled {
            details["tokens_revoked"] = String(try await portal.store.revokeAll(userID: user.id, at: now))
            let ended = try await portal.store.endAll(userID: user.id, .userDisabled, at: now)
            await portal.forget(ended)
            details["sessions_terminated"] = String(ended.count)
        }
        try await portal.audit(.updateUser, by: principal, in: context, resource: ("user", user.id), details: details)
        let organization = try await user.organizationID.asyncFlatMap { try await portal.store.organization(id: $0) }
        return JSONBody(UserView(user, organization: organization))
    }
}
