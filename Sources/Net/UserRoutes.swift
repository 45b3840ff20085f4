import Actors
import Domain
import Hummingbird
import Services

/// `/api/users`: administrators list users and change their role, their organisation, or disable them.
struct UserRoutes {
    let users: UserAdministration
    let signIn: SignIn
    let store: any Store
    let audit: AuditTrail

    struct Reset: Encodable, Sendable {
        var temporaryPassword: String
        var mustChangePassword = true
    }

    /// A `PATCH` body. `organization_id` given as null takes the account out of its organisation;
    /// left out, it stays where it is.
    struct Change: ClosedJSONObject {
        var role: Role?
        var disabled: Bool?
        var membership: OrganizationMembership.Assignment?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case role, disabled
            case organizationID = "organization_id"
        }
        static let fields = Set(CodingKeys.allCases.map(\.rawValue))

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            role = try container.decodeIfPresent(Role.self, forKey: .role)
            disabled = try container.decodeIfPresent(Bool.self, forKey: .disabled)
            if container.contains(.organizationID) {
                membership =
                    try container.decodeNil(forKey: .organizationID)
                    ? .noOrganization
                    : .member(of: try container.decode(String.self, forKey: .organizationID))
            }
        }
    }

    func register(on group: RouterGroup<SignedInContext>) {
        group.get(use: list)
        group.patch(":id", use: update)
        group.post(":id/password-reset", use: resetPassword)
        group.delete(":id/login-throttle", use: clearLoginThrottle)
        group.delete(":id/mfa", use: resetSecondFactor)
    }

    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> WrittenJSON {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "list users", in: context)
        let users = try await store.users(
            matching: try UserSearch.text(try request.queryValue("search")), limit: try request.queryLimit(),
            offset: try request.queryOffset())
        let organizations = Dictionary(
            try await store.organizations().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        return .users(users.map { UserView($0, organization: $0.organizationID.flatMap { organizations[$0] }) })
    }

    /// Role changes and disabling take effect on the account's very next request (see
    /// `UserAdministration.change`).
    @Sendable func update(_ request: Request, context: SignedInContext) async throws -> WrittenJSON {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "change users", in: context)
        let change = try await request.decodeJSON(Change.self, context: context)
        let user = try await users.change(
            userID: try context.parameters.require("id"),
            .init(role: change.role, disabled: change.disabled, membership: change.membership),
            by: .principal(principal), from: context.clientAddress)
        let organization = try await user.organizationID.asyncFlatMap { try await store.organization(id: $0) }
        return .user(UserView(user, organization: organization))
    }

    /// A password the account must change at its next sign-in, shown once; every token of the
    /// account is revoked.
    @Sendable func resetPassword(_ request: Request, context: SignedInContext) async throws -> JSONBody<Reset> {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "reset passwords", in: context)
        let temporary = try await users.resetPassword(
            userID: try context.parameters.require("id"), by: .principal(principal), from: context.clientAddress)
        return JSONBody(Reset(temporaryPassword: temporary))
    }

    /// Removes an account's second factor (a lost authenticator and no recovery code left): it
    /// signs in with its password alone until it enrols again; audited as `mfa_reset`.
    @Sendable func resetSecondFactor(_ request: Request, context: SignedInContext) async throws -> JSONBody<SecondFactorRoutes.State> {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "reset second factors", in: context)
        try await signIn.secondFactors.reset(
            userID: try context.parameters.require("id"), by: .principal(principal), from: context.clientAddress)
        return JSONBody(.init(message: "MFA reset", mfaEnabled: false))
    }

    /// Lets an account sign in again from every address that failed for it (an administrator's
    /// answer to a guessing attack the owner was caught in); audited.
    @Sendable func clearLoginThrottle(_ request: Request, context: SignedInContext) async throws -> JSONBody<[String: Int]> {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "clear login throttles", in: context)
        let unlock = try await users.unlockSignIns(
            userID: try context.parameters.require("id"), by: .principal(principal), from: context.clientAddress)
        return JSONBody(["addresses_cleared": await signIn.apply(unlock)])
    }
}
