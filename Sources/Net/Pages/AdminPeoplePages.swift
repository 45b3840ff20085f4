import Domain
import Foundation
import Hummingbird
import Services

/// `/admin/users` and `/admin/demos` (administrators): accounts (role, disabled, with the rule that
/// one active administrator remains, `UserAdministration`) and demo sessions (end, extend,
/// `DemoLifecycle`), as the API changes them, each change audited there. A refusal (the last
/// administrator, a demo no longer active) comes back on the same page, said plainly.
struct AdminPeoplePages {
    let users: UserAdministration
    let organizations: Organizations
    let demos: DemoLifecycle
    let store: any Store
    let audit: AuditTrail
    let renderer: PageRenderer
    let clock: WallClock

    static let pageSize = 100

    func register(on signedIn: RouterGroup<SignedInPageContext>) {
        signedIn.get("admin/users", use: userList)
        signedIn.post("admin/users/:id", use: changeUser)
        signedIn.get("admin/organizations", use: organizationList)
        signedIn.post("admin/organizations", use: createOrganization)
        signedIn.get("admin/demos", use: demoList)
        signedIn.post("admin/demos/:id/end", use: endDemo)
        signedIn.post("admin/demos/:id/extend", use: extendDemo)
    }

    static let notices = [
        "user": "The account was changed.", "organization": "The organisation was created.", "ended": "The demo was ended.",
        "extended": "The demo was extended.",
    ]

    // MARK: - Users

    private struct UserRow {
        struct Choice {
            let value: String
            let selected: Bool
        }

        let id: String
        let email: String
        let name: String
        let roles: [Choice]
        /// A role no administrator gives or takes (a demo visitor's), shown instead of a choice.
        let fixedRole: String?
        let disabled: Bool
        let mfa: Bool
        let created: ShownTime
    }

    private struct UserBody {
        let rows: [UserRow]
        let hasRows: Bool
        /// What the list is narrowed to (e-mail or name), as typed.
        let search: String
        /// `search=…&`, percent-encoded, for the page links; empty without a search.
        let searchQuery: String
        /// The offsets of the next and previous pages, as text (a page at offset 0 must still show).
        let older: String?
        let newer: String?
    }

    @Sendable func userList(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await audit.requireAdmin(context.principal, to: "manage users", in: context)
        return try await userPage(
            // The raw query, decoded as the form was sent (a space is `+`, which the URI's own
            // decoding keeps as `+`).
            context,
            search: try UserSearch.text(FormFields(request.uri.query ?? "").pairs.last { $0.name == "search" }?.value) ?? "",
            offset: Self.offset(request),
            notice: Self.notice(request), alert: nil)
    }

    private func userPage(
        _ context: SignedInPageContext, search: String = "", offset: Int, notice: String?, alert: String?,
        status: HTTPResponse.Status = .ok
    )
        async throws -> Response
    {
        let page = try await store.users(matching: search, limit: Self.pageSize + 1, offset: offset)
        let now = clock.now()
        let assignable = Role.allCases.filter { role in (try? AccessRules.requireAssignable(role)) != nil }
        let rows = page.prefix(Self.pageSize).map { user in
            UserRow(
                id: user.id, email: user.email, name: user.name,
                roles: assignable.map { .init(value: $0.rawValue, selected: $0 == user.role) },
                fixedRole: assignable.contains(user.role) ? nil : user.role.rawValue, disabled: user.disabled,
                mfa: user.mfaEnabled, created: ShownTime(user.createdAt, now: now))
        }
        return renderer.render(
            "admin-users", title: "Users · Administration",
            chrome: renderer.chrome(context.identity, at: "/admin/users", csrf: context.csrfToken, notice: notice, alert: alert),
            body: UserBody(
                rows: Array(rows), hasRows: !rows.isEmpty, search: search,
                searchQuery: search.isEmpty ? "" : "search=\(PageRenderer.linkComponent(search))&",
                older: page.count > Self.pageSize ? String(offset + Self.pageSize) : nil,
                newer: offset > 0 ? String(max(0, offset - Self.pageSize)) : nil),
            status: status)
    }

    private struct UserChange: Decodable {
        var role: String?
        var disabled: String?
    }

    @Sendable func changeUser(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await audit.requireAdmin(context.principal, to: "change users", in: context)
        let form = try context.form.decode(UserChange.self)
        let role = try form.role.map { text in
            guard let role = Role(rawValue: text) else { throw DomainError.invalid("Field 'role' must be one of the roles") }
            return role
        }
        let disabled = try form.disabled.map { try FormFields.boolean($0, field: "disabled") }
        do {
            _ = try await users.change(
                userID: try context.parameters.require("id"), .init(role: role, disabled: disabled), by: .principal(context.principal),
                from: context.clientAddress)
        } catch let problem as DomainError {
            guard case .conflict(let detail) = problem else { throw problem }
            return try await userPage(context, offset: 0, notice: nil, alert: detail, status: .conflict)
        }
        return PageRenderer.redirect(to: "/admin/users?notice=user")
    }

    // MARK: - Organisations

    private struct OrganizationBody {
        struct Row {
            let name: String
            let domain: String
            let created: ShownTime
        }

        let rows: [Row]
        let name: String
        let domain: String
        /// The field a problem names ("name" or "domain"), with the problem.
        let problems: [String: String]
    }

    @Sendable func organizationList(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await audit.requireAdmin(context.principal, to: "manage organizations", in: context)
        return try await organizationPage(context, name: "", domain: "", problems: [:], notice: Self.notice(request))
    }

    private func organizationPage(
        _ context: SignedInPageContext, name: String, domain: String, problems: [String: String], notice: String?
    ) async throws -> Response {
        let now = clock.now()
        let rows = try await organizations.visible(to: context.principal).map {
            OrganizationBody.Row(name: $0.name, domain: $0.domain ?? "—", created: ShownTime($0.createdAt, now: now))
        }
        return renderer.render(
            "admin-organizations", title: "Organisations · Administration",
            chrome: renderer.chrome(context.identity, at: "/admin/organizations", csrf: context.csrfToken, notice: notice),
            body: OrganizationBody(rows: rows, name: name, domain: domain, problems: problems),
            status: problems.isEmpty ? .ok : .unprocessableContent)
    }

    private struct NewOrganization: Decodable {
        var name: String?
        var domain: String?
    }

    /// `Organizations.create`, as `POST /api/organizations` (validated, audited
    /// `create_organization`); a refusal comes back beside its field, what was entered kept.
    @Sendable func createOrganization(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await audit.requireAdmin(context.principal, to: "create organizations", in: context)
        let form = try context.form.decode(NewOrganization.self)
        let (name, domain) = (form.name ?? "", (form.domain ?? "").trimmingCharacters(in: .whitespaces))
        do {
            _ = try await organizations.create(
                name: name, domain: domain.isEmpty ? nil : domain, by: .principal(context.principal), from: context.clientAddress)
        } catch let problem as DomainError {
            switch problem {
            case .invalid(let detail), .conflict(let detail):
                let field = detail.lowercased().contains("domain") ? "domain" : "name"
                return try await organizationPage(context, name: name, domain: domain, problems: [field: detail], notice: nil)
            default:
                throw problem
            }
        }
        return PageRenderer.redirect(to: "/admin/organizations?notice=organization")
    }

    // MARK: - Demos

    private struct DemoRow {
        let id: String
        let workspace: String
        let contact: String
        let address: String
        let status: String
        let active: Bool
        let started: ShownTime
        let ends: ShownTime
    }

    private struct DemoBody {
        let rows: [DemoRow]
        let hasRows: Bool
    }

    @Sendable func demoList(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await audit.requireAdmin(context.principal, to: "list demo sessions", in: context)
        return try await demoPage(context, notice: Self.notice(request), alert: nil)
    }

    private func demoPage(
        _ context: SignedInPageContext, notice: String?, alert: String?, status: HTTPResponse.Status = .ok
    )
        async throws -> Response
    {
        let now = clock.now()
        let rows = try await store.demos(userID: nil, limit: 100).map { demo in
            DemoRow(
                id: demo.id, workspace: demo.workspaceType, contact: demo.contactEmail ?? "—", address: demo.clientAddress,
                status: demo.status.rawValue, active: demo.status == .active, started: ShownTime(demo.createdAt, now: now),
                ends: ShownTime(demo.endedAt ?? demo.expiresAt, now: now))
        }
        return renderer.render(
            "admin-demos", title: "Demo sessions · Administration",
            chrome: renderer.chrome(context.identity, at: "/admin/demos", csrf: context.csrfToken, notice: notice, alert: alert),
            body: DemoBody(rows: rows, hasRows: !rows.isEmpty), status: status)
    }

    @Sendable func endDemo(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await audit.requireAdmin(context.principal, to: "end demo sessions", in: context)
        do {
            _ = try await demos.end(try context.parameters.require("id"), by: context.principal)
        } catch let problem as DomainError {
            guard case .conflict(let detail) = problem else { throw problem }
            return try await demoPage(context, notice: nil, alert: detail, status: .conflict)
        }
        return PageRenderer.redirect(to: "/admin/demos?notice=ended")
    }

    private struct Extension: Decodable {
        var minutes: String?
    }

    @Sendable func extendDemo(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await audit.requireAdmin(context.principal, to: "extend demo sessions", in: context)
        let minutes = Int(try context.form.decode(Extension.self).minutes ?? "") ?? 0
        do {
            _ = try await demos.extend(
                try context.parameters.require("id"), byMinutes: minutes, by: context.principal, from: context.clientAddress)
        } catch let problem as DomainError {
            switch problem {
            case .conflict(let detail), .invalid(let detail):
                return try await demoPage(context, notice: nil, alert: detail, status: problem.status)
            default: throw problem
            }
        }
        return PageRenderer.redirect(to: "/admin/demos?notice=extended")
    }

    static func offset(_ request: Request) -> Int {
        request.uri.queryParameters["offset"].flatMap { Int($0) }.map { max(0, min($0, 1_000_000)) } ?? 0
    }

    static func notice(_ request: Request) -> String? {
        request.uri.queryParameters["notice"].flatMap { notices[String($0)] }
    }
}
