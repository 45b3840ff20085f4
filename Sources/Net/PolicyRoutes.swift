import Domain
import Foundation
import Hummingbird
import Services

/// `/api/policies`: read by anyone signed in but a demo visitor; written, switched and evaluated
/// by administrators.
struct PolicyRoutes {
    let policies: Policies
    let audit: AuditTrail

    struct Change: ClosedJSONObject {
        var enabled: Bool?

        enum CodingKeys: String, CodingKey, CaseIterable { case enabled }
        static let fields = Set(CodingKeys.allCases.map(\.rawValue))
    }

    /// A policy as the API shows it.
    struct View: Encodable, Sendable {
        var id: String
        var name: String
        var description: String
        var category: String
        var kind: String
        var enabled: Bool
        var weight: Int
        var scope: PolicyScope
        var settings: PolicySettings
        var updatedAt: Date

        init(_ policy: Policy) {
            id = policy.id
            name = policy.name
            description = policy.description
            category = policy.category
            kind = policy.kindName
            enabled = policy.enabled
            weight = policy.weight
            scope = policy.scope
            settings = policy.rule.settings
            updatedAt = policy.updatedAt
        }

        enum CodingKeys: String, CodingKey {
            case id, name, description, category, kind, enabled, weight, scope, settings
            case updatedAt = "updated_at"
        }
    }

    /// `POST` and `PUT` bodies: the whole policy but its id (which `POST` may name).
    struct Body: ClosedJSONObject {
        var id: String?
        var name: String
        var description: String?
        var category: String?
        var kind: String
        var enabled: Bool?
        var weight: Int?
        var scope: PolicyScope?
        var settings: PolicySettings?

        enum CodingKeys: String, CodingKey, CaseIterable { case id, name, description, category, kind, enabled, weight, scope, settings }
        static let fields = Set(CodingKeys.allCases.map(\.rawValue))
        static let nestedFields = ["scope": PolicyScope.fields, "settings": PolicySettings.fields]
    }

    /// What `POST /api/policies/evaluate` asks about.
    struct Question: ClosedJSONObject {
        var userID: String?
        var role: Role?
        var organizationID: String?
        var workspaceID: String?
        var address: String?
        var at: Date?
        var mfaVerified: Bool?
        var stage: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case role, address, at, stage
            case userID = "user_id"
            case organizationID = "organization_id"
            case workspaceID = "workspace_id"
            case mfaVerified = "mfa_verified"
        }

        static let fields = Set(CodingKeys.allCases.map(\.rawValue))
    }

    struct Verdict: Encodable, Sendable {
        var policy: String
        var kind: String
        var verdict: String
        var reason: String
        var remedy: String?
        var retryAt: Date?

        enum CodingKeys: String, CodingKey {
            case policy, kind, verdict, reason, remedy
            case retryAt = "retry_at"
        }
    }

    struct Evaluation: Encodable, Sendable {
        var allowed: Bool
        var verdicts: [Verdict]
    }

    func register(on group: RouterGroup<SignedInContext>) {
        group.get(use: list)
        group.post(use: create)
        group.post("evaluate", use: evaluate)
        group.get(":id", use: show)
        group.put(":id", use: replace)
        group.patch(":id", use: toggle)
        group.delete(":id", use: delete)
    }

    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> JSONBody<[View]> {
        JSONBody(try await policies.visible(to: context.principal).map(View.init))
    }

    @Sendable func show(_ request: Request, context: SignedInContext) async throws -> JSONBody<View> {
        JSONBody(View(try await policies.policy(try context.parameters.require("id"), visibleTo: context.principal)))
    }

    @Sendable func create(_ request: Request, context: SignedInContext) async throws -> JSONBody<View> {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "create policies", in: context)
        let body = try await request.decodeJSON(Body.self, context: context)
        let policy = try await policies.create(body.draft(), by: .principal(principal), from: context.clientAddress)
        return JSONBody(View(policy), status: .created)
    }

    @Sendable func replace(_ request: Request, context: SignedInContext) async throws -> JSONBody<View> {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "change policies", in: context)
        let id = try context.parameters.require("id")
        let body = try await request.decodeJSON(Body.self, context: context)
        if let named = body.id, named != id { throw DomainError.invalid("id may be sent only as the policy's own id") }
        return JSONBody(View(try await policies.replace(id, with: body.draft(id: id), by: .principal(principal), from: context.clientAddress)))
    }

    @Sendable func delete(_ request: Request, context: SignedInContext) async throws -> JSONBody<[String: String]> {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "delete policies", in: context)
        let id = try context.parameters.require("id")
        try await policies.delete(id, by: .principal(principal), from: context.clientAddress)
        return JSONBody(["message": "Policy deleted", "id": id])
    }

    /// `{"enabled": bool}` sets it; no body (or no `enabled`) flips it.
    @Sendable func toggle(_ request: Request, context: SignedInContext) async throws -> JSONBody<View> {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "change policies", in: context)
        let id = try context.parameters.require("id")
        let change = try await request.decodeOptionalJSON(Change.self, context: context)
        return JSONBody(View(try await policies.set(id, enabled: change?.enabled, by: .principal(principal), from: context.clientAddress)))
    }

    /// Each enabled policy's verdict on the request described, with no side effect: nothing is
    /// refused, counted or audited.
    @Sendable func evaluate(_ request: Request, context: SignedInContext) async throws -> JSONBody<Evaluation> {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "evaluate policies", in: context)
        let question = try await request.decodeJSON(Question.self, context: context)
        let stage: PolicyRequest.Stage
        switch question.stage ?? "launch" {
        case "sign_in": stage = .signIn
        case "launch": stage = .launch
        case "call": stage = .call
        default: throw DomainError.invalid("stage must be sign_in, launch or call")
        }
        // Only a launch names a workspace: a sign-in or another call asked about one never happens.
        if question.workspaceID != nil, stage != .launch {
            throw DomainError.invalid("workspace_id names the workspace of a launch: leave it out, or ask about stage launch")
        }
        if let address = question.address, AddressRange.bytes(of: address) == nil {
            throw DomainError.invalid("address must be an IPv4 or IPv6 address")
        }
        let verdicts = try await policies.evaluate(
            try await policies.request(
                stage: stage, userID: question.userID, role: question.role, organizationID: question.organizationID,
                workspaceID: question.workspaceID, address: question.address, mfaVerified: question.mfaVerified ?? false,
                at: question.at))
        return JSONBody(
            Evaluation(
                allowed: !verdicts.contains(where: \.isDenied),
                verdicts: verdicts.map { verdict in
                    var view = Verdict(policy: verdict.policyID, kind: verdict.kind, verdict: "", reason: verdict.reason)
                    switch verdict.outcome {
                    case .notApplicable: view.verdict = "not_applicable"
                    case .allowed: view.verdict = "allow"
                    case .limited: view.verdict = "limit"
                    case .recorded: view.verdict = "record"
                    case .denied(let remedy, let retryAt):
                        view.verdict = "deny"
                        view.remedy = remedy
                        view.retryAt = retryAt
                    }
                    return view
                }))
    }
}

extension PolicyRoutes.Body {
    func draft(id: String? = nil) -> Policies.Draft {
        Policies.Draft(
            id: id ?? self.id, name: name, description: description ?? "", category: category, kind: kind,
            enabled: enabled, weight: weight, scope: scope ?? PolicyScope(), settings: settings ?? PolicySettings())
    }
}
