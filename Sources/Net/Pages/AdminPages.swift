import Domain
import Foundation
import Hummingbird
import Services

/// `/admin/workspaces` and `/admin/policies` (administrators): the catalogue written with
/// `WorkspaceAdministration` and the policies switched with `Policies`, as the API does it, each
/// change audited there; anyone else is refused (403, audited `access_denied`, as the API).
struct AdminPages {
    let administration: WorkspaceAdministration
    let policies: Policies
    let statistics: Statistics
    let store: any Store
    let audit: AuditTrail
    let renderer: PageRenderer

    func register(on signedIn: RouterGroup<SignedInPageContext>) {
        signedIn.get("admin/workspaces", use: workspaces)
        signedIn.post("admin/workspaces", use: create)
        signedIn.get("admin/workspaces/:id", use: edit)
        signedIn.post("admin/workspaces/:id", use: update)
        signedIn.post("admin/workspaces/:id/delete", use: delete)
        signedIn.get("admin/policies", use: policyList)
        signedIn.post("admin/policies/:id/toggle", use: toggle)
    }

    static let notices = [
        "created": "The workspace was created.", "updated": "The workspace was saved.", "deleted": "The workspace was deleted.",
        "toggled": "The policy was switched.",
    ]

    private func requireAdmin(_ context: SignedInPageContext, to action: String) async throws {
        try await audit.requireAdmin(context.principal, to: action, in: context)
    }

    // MARK: - Workspaces

    /// The workspace form's fields as they were entered, and each one's problem.
    struct WorkspaceForm {
        struct Choice {
            let value: String
            let label: String
            let selected: Bool
        }

        var id = ""
        var name = ""
        var type = ""
        var description = ""
        var url = ""
        var cpu = "2"
        var memory = "4"
        var storage = "20"
        var maxSessionMinutes = "480"
        var streamUpstream = ""
        var statuses: [Choice] = []
        var launchModes: [Choice] = []
        var roles: [Choice] = []
        var problems: [String: String] = [:]
        var hasProblems = false

        static let fieldNames = [
            "id", "name", "type", "description", "url", "cpu", "memory", "storage", "max_session_minutes", "stream_upstream",
        ]
        /// Fields whose emptying is a change when editing (a description may be empty; an emptied
        /// stream upstream removes it); any other empty field is left out.
        static let clearable: Set<String> = ["description", "stream_upstream"]

        init(_ workspace: Workspace?) {
            if let workspace {
                (id, name, type, description, url) = (workspace.id, workspace.name, workspace.type, workspace.description, workspace.url)
                (cpu, memory, storage) = (String(workspace.cpu), String(workspace.memory), String(workspace.storage))
                maxSessionMinutes = String(workspace.maxSessionMinutes)
                streamUpstream = workspace.streamUpstream ?? ""
            }
            choose(
                status: workspace?.status.rawValue ?? "available", launchMode: workspace?.launchMode.rawValue ?? "iframe",
                roles: Set((workspace?.allowedRoles ?? [.admin, .neosc]).map(\.rawValue)))
        }

        /// From a posted form: every field as text, kept to be shown back.
        init(fields: [String: String], roles: Set<String>) {
            id = fields["id"] ?? ""
            name = fields["name"] ?? ""
            type = fields["type"] ?? ""
            description = fields["description"] ?? ""
            url = fields["url"] ?? ""
            cpu = fields["cpu"] ?? ""
            memory = fields["memory"] ?? ""
            storage = fields["storage"] ?? ""
            maxSessionMinutes = fields["max_session_minutes"] ?? ""
            streamUpstream = fields["stream_upstream"] ?? ""
            choose(status: fields["status"] ?? "available", launchMode: fields["launch_mode"] ?? "iframe", roles: roles)
        }

        private mutating func choose(status: String, launchMode: String, roles chosen: Set<String>) {
            statuses = Workspace.Status.allCases.map { Choice(value: $0.rawValue, label: $0.rawValue, selected: $0.rawValue == status) }
            launchModes = Workspace.LaunchMode.allCases.map {
                Choice(value: $0.rawValue, label: $0 == .iframe ? "in NeoSC's viewer" : "in a new tab", selected: $0.rawValue == launchMode)
            }
            roles = Role.allCases.map { Choice(value: $0.rawValue, label: $0.rawValue, selected: chosen.contains($0.rawValue)) }
        }

        mutating func mark(_ field: String, _ problem: String) {
            if problems[field] == nil { problems[field] = problem }
            hasProblems = true
        }
    }

    /// The posted form as text fields, its role checkboxes, and the draft it makes. Each field is
    /// also checked on its own with the API's validation (`WorkspaceDraft`), so that every wrong
    /// field is marked at once, not only the first.
    private func read(_ context: SignedInPageContext, creating: Bool) throws -> (WorkspaceForm, WorkspaceDraft?) {
        let pairs = try context.form.strictPairs()
        var fields: [String: String] = [:]
        var roles: Set<String> = []
        for (name, value) in pairs {
            if name == "allowed_roles" {
                roles.insert(value)
            } else if fields[name] == nil {
                // A browser sends a textarea's line breaks as CR LF, a control character text
                // fields refuse: each is read as the LF the API takes.
                fields[name] = name == "description" ? value.replacingOccurrences(of: "\r\n", with: "\n") : value
            }
        }
        var form = WorkspaceForm(fields: fields, roles: roles)
        func draft(_ only: String?) -> (WorkspaceDraft?, DomainError?) {
            var object: [String: Any] = [:]
            for name in WorkspaceForm.fieldNames + ["status", "launch_mode"] where only == nil || name == only {
                guard let text = fields[name]?.trimmingCharacters(in: .whitespaces) else { continue }
                // An emptied description or stream upstream is a change; any other empty field is absent.
                guard !text.isEmpty || (WorkspaceForm.clearable.contains(name) && !creating) else { continue }
                if ["cpu", "memory", "storage", "max_session_minutes"].contains(name) {
                    object[name] = Int(text) ?? text  // a word where a number goes: "has the wrong type"
                } else {
                    object[name] = text
                }
            }
            if only == nil { object["allowed_roles"] = roles.sorted() }
            if only != nil {
                // One field checked alone: the required ones stand in with harmless values.
                object.merge(["name": "n", "type": "t", "url": "/"]) { mine, _ in mine }
            }
            do {
                let data = try JSONSerialization.data(withJSONObject: object)
                let decoded = try PortalJSON.decoder.decode(WorkspaceDraft.self, from: data)
                if creating || only != nil {
                    _ = try decoded.newWorkspace(id: "checked-alone", at: Date(), upstreams: administration.streamUpstreams)
                }
                return (decoded, nil)
            } catch let error as DecodingError {
                return (nil, DomainError(error))
            } catch let error as DomainError {
                return (nil, error)
            } catch {
                return (nil, .invalid("The form could not be read"))
            }
        }
        for name in ["name", "type", "url"] where (fields[name] ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            if creating || fields[name] != nil { form.mark(name, "Field '\(name)' is required") }
        }
        for name in WorkspaceForm.fieldNames + ["status", "launch_mode"] where creating || !(fields[name] ?? "").isEmpty {
            if case .invalid(let problem)? = draft(name).1 { form.mark(Self.field(of: problem) ?? name, problem) }
        }
        let (whole, problem) = draft(nil)
        if let problem { form.mark(Self.field(of: problem.detail) ?? "form", problem.detail) }
        return (form, form.hasProblems ? nil : whole)
    }

    /// The field a validation message names ("Field 'cpu' must be …").
    static func field(of message: String) -> String? {
        guard let start = message.range(of: "Field '"), let end = message[start.upperBound...].firstIndex(of: "'") else { return nil }
        return String(message[start.upperBound..<end]).split(separator: "[").first.map(String.init)
    }

    private struct ListBody {
        struct Row {
            let id: String
            let name: String
            let type: String
            let status: String
            let launchMode: String
            let roles: String
        }

        let rows: [Row]
        let form: WorkspaceForm
    }

    @Sendable func workspaces(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await requireAdmin(context, to: "manage workspaces")
        return try await list(context, notice: request.uri.queryParameters["notice"].flatMap { Self.notices[String($0)] })
    }

    private func list(_ context: SignedInPageContext, form: WorkspaceForm = WorkspaceForm(nil), notice: String? = nil) async throws -> Response {
        let rows = try await store.workspaces().map {
            ListBody.Row(
                id: $0.id, name: $0.name, type: $0.type, status: $0.status.rawValue, launchMode: $0.launchMode.rawValue,
                roles: $0.allowedRoles.map(\.rawValue).joined(separator: ", "))
        }
        return renderer.render(
            "admin-workspaces", title: "Workspaces · Administration",
            chrome: renderer.chrome(context.identity, at: "/admin/workspaces", csrf: context.csrfToken, notice: notice),
            body: ListBody(rows: rows, form: form), status: form.hasProblems ? .unprocessableContent : .ok)
    }

    @Sendable func create(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await requireAdmin(context, to: "create workspaces")
        let (form, draft) = try read(context, creating: true)
        guard let draft else { return try await list(context, form: form) }
        do {
            _ = try await administration.create(draft, by: .principal(context.principal), from: context.clientAddress)
        } catch let problem as DomainError {
            switch problem {
            case .invalid, .conflict:
                var form = form
                form.mark(Self.field(of: problem.detail) ?? "id", problem.detail)
                return try await list(context, form: form)
            default:
                throw problem
            }
        }
        return PageRenderer.redirect(to: "/admin/workspaces?notice=created")
    }

    private struct EditBody {
        let id: String
        let name: String
        let form: WorkspaceForm
        let confirmDelete: Bool
        let activeSessions: Int
        /// The form leaves out the id (it cannot change).
        let editing = true
    }

    @Sendable func edit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await requireAdmin(context, to: "manage workspaces")
        let id = try context.parameters.require("id")
        guard let workspace = try await store.workspace(id: id) else { throw DomainError.notFound("Workspace not found") }
        return editPage(context, workspace: workspace, form: WorkspaceForm(workspace))
    }

    private func editPage(
        _ context: SignedInPageContext, workspace: Workspace, form: WorkspaceForm, confirmDelete: Bool = false, activeSessions: Int = 0
    ) -> Response {
        renderer.render(
            "admin-workspace", title: "\(workspace.name) · Administration",
            chrome: renderer.chrome(context.identity, at: "/admin/workspaces", csrf: context.csrfToken),
            body: EditBody(id: workspace.id, name: workspace.name, form: form, confirmDelete: confirmDelete, activeSessions: activeSessions),
            status: form.hasProblems ? .unprocessableContent : .ok)
    }

    @Sendable func update(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await requireAdmin(context, to: "update workspaces")
        let id = try context.parameters.require("id")
        guard let workspace = try await store.workspace(id: id) else { throw DomainError.notFound("Workspace not found") }
        var (form, draft) = try read(context, creating: false)
        form.id = workspace.id
        guard var draft else { return editPage(context, workspace: workspace, form: form) }
        draft.id = nil
        let accepted = draft
        do {
            _ = try await administration.update(id, by: .principal(context.principal), from: context.clientAddress) { accepted }
        } catch let problem as DomainError {
            guard case .invalid = problem else { throw problem }
            form.mark(Self.field(of: problem.detail) ?? "name", problem.detail)
            return editPage(context, workspace: workspace, form: form)
        }
        return PageRenderer.redirect(to: "/admin/workspaces?notice=updated")
    }

    private struct Confirmation: Decodable {
        var confirm: String?
    }

    /// Deleting is two steps: the first post asks (and says how many sessions it would end), the
    /// second, with `confirm=yes`, deletes.
    @Sendable func delete(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await requireAdmin(context, to: "delete workspaces")
        let id = try context.parameters.require("id")
        guard let workspace = try await store.workspace(id: id) else { throw DomainError.notFound("Workspace not found") }
        guard try context.form.decode(Confirmation.self).confirm == "yes" else {
            let active = try await store.activeCountsByWorkspace()[id] ?? 0
            return editPage(context, workspace: workspace, form: WorkspaceForm(workspace), confirmDelete: true, activeSessions: active)
        }
        _ = try await administration.delete(id, by: .principal(context.principal), from: context.clientAddress)
        return PageRenderer.redirect(to: "/admin/workspaces?notice=deleted")
    }

    // MARK: - Policies

    private struct PolicyBody {
        struct Row {
            let id: String
            let name: String
            let kind: String
            let scope: String
            let enabled: Bool
            let weight: Int
            let scoreIfToggled: Int
        }

        let score: Int
        let rows: [Row]
    }

    @Sendable func policyList(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await requireAdmin(context, to: "manage policies")
        let all = try await policies.all()
        let figures = try await statistics.figures(for: context.principal)
        func score(_ list: [Policy]) -> Int {
            SecurityScore.compute(policies: list, activeUsers: figures.totalUsers, usersWithMFA: figures.usersWithMFA)
        }
        let rows = all.map { policy in
            let toggled = all.map { $0.id == policy.id ? Self.switched($0) : $0 }
            return PolicyBody.Row(
                id: policy.id, name: policy.name, kind: policy.kindName, scope: Self.describe(policy.scope),
                enabled: policy.enabled, weight: policy.weight, scoreIfToggled: score(toggled))
        }
        return renderer.render(
            "admin-policies", title: "Policies · Administration",
            chrome: renderer.chrome(
                context.identity, at: "/admin/policies", csrf: context.csrfToken,
                notice: request.uri.queryParameters["notice"].flatMap { Self.notices[String($0)] }),
            body: PolicyBody(score: score(all), rows: rows))
    }

    private struct Switch: Decodable {
        var enabled: String?
    }

    /// Sets the state the button said ("Switch off" switches off), so a stale page or a second
    /// click never does the opposite.
    @Sendable func toggle(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await requireAdmin(context, to: "change policies")
        let wanted = try FormFields.boolean(try context.form.decode(Switch.self).enabled, field: "enabled")
        _ = try await policies.set(
            try context.parameters.require("id"), enabled: wanted, by: .principal(context.principal), from: context.clientAddress)
        return PageRenderer.redirect(to: "/admin/policies?notice=toggled")
    }

    static func switched(_ policy: Policy) -> Policy {
        var policy = policy
        policy.enabled.toggle()
        return policy
    }

    static func describe(_ scope: PolicyScope) -> String {
        var parts: [String] = []
        if !scope.roles.isEmpty { parts.append("roles: " + scope.roles.map(\.rawValue).joined(separator: ", ")) }
        if !scope.organizations.isEmpty { parts.append("organisations: " + scope.organizations.joined(separator: ", ")) }
        if !scope.workspaces.isEmpty { parts.append("workspaces: " + scope.workspaces.joined(separator: ", ")) }
        return parts.isEmpty ? "everyone" : parts.joined(separator: "; ")
    }
}
