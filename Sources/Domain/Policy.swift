import Foundation

/// A security policy: a typed rule (`PolicyRule`) for the requests its scope covers, which an
/// administrator writes and switches on and off.
///
/// Its fields are held by one immutable reference: every request is judged against the same
/// enabled policies, and handing one on (out of the policy book's array, into a judgement) then
/// costs a retain, not a retain and release of each of its strings and collections. A change to
/// a field makes a new reference; the fields are never shared mutably.
public struct Policy: Sendable, Equatable {
    /// Ids no policy may take: the words the API's collection uses for actions of its own
    /// (`POST /api/policies/evaluate`). `/api/policies/{id}` could never reach a policy so named.
    public static let reservedIDs: Set<String> = ["evaluate"]

    private struct Fields: Sendable, Equatable {
        var id: String
        var name: String
        var description: String
        var category: String
        var enabled: Bool
        var weight: Int
        var scope: PolicyScope
        var rule: PolicyRule
        var updatedAt: Date
    }

    private final class Storage: Sendable {
        let fields: Fields

        init(_ fields: Fields) {
            self.fields = fields
        }
    }

    private var storage: Storage

    public var id: String {
        get { storage.fields.id }
        set { change { $0.id = newValue } }
    }
    public var name: String {
        get { storage.fields.name }
        set { change { $0.name = newValue } }
    }
    public var description: String {
        get { storage.fields.description }
        set { change { $0.description = newValue } }
    }
    public var category: String {
        get { storage.fields.category }
        set { change { $0.category = newValue } }
    }
    public var enabled: Bool {
        get { storage.fields.enabled }
        set { change { $0.enabled = newValue } }
    }
    /// How much this policy weighs in the security score when enabled (see `SecurityScore`).
    public var weight: Int {
        get { storage.fields.weight }
        set { change { $0.weight = newValue } }
    }
    public var scope: PolicyScope {
        get { storage.fields.scope }
        set { change { $0.scope = newValue } }
    }
    public var rule: PolicyRule {
        get { storage.fields.rule }
        set { change { $0.rule = newValue } }
    }
    public var updatedAt: Date {
        get { storage.fields.updatedAt }
        set { change { $0.updatedAt = newValue } }
    }

    /// Nil for a kind this version does not know (`kindName` names it).
    public var kind: PolicyKind? { rule.kind }
    public var kindName: String { rule.kindName }

    /// Why this policy's scope names workspaces its rule can never be asked about, if it does
    /// (`PolicyRule.workspaceScopeProblem`).
    public var workspaceScopeProblem: String? { scope.workspaces.isEmpty ? nil : rule.workspaceScopeProblem }

    public init(
        id: String, name: String, description: String, category: String, enabled: Bool, weight: Int,
        scope: PolicyScope = PolicyScope(), rule: PolicyRule, updatedAt: Date
    ) {
        storage = Storage(
            Fields(
                id: id, name: name, description: description, category: category, enabled: enabled, weight: weight, scope: scope,
                rule: rule, updatedAt: updatedAt))
    }

    public static func == (lhs: Policy, rhs: Policy) -> Bool {
        lhs.storage === rhs.storage || lhs.storage.fields == rhs.storage.fields
    }

    private mutating func change(_ apply: (inout Fields) -> Void) {
        var fields = storage.fields
        apply(&fields)
        storage = Storage(fields)
    }
}

/// Whom a policy is for: an empty list means everyone (every role, every organisation, every
/// workspace); a request is covered when it matches every list that is not empty.
public struct PolicyScope: Sendable, Equatable, Codable {
    public var roles: [Role]
    public var organizations: [String]
    public var workspaces: [String]

    enum CodingKeys: String, CodingKey, CaseIterable { case roles, organizations, workspaces }

    /// Its fields' names, in their wire spelling.
    public static let fields = Set(CodingKeys.allCases.map(\.rawValue))

    public init(roles: [Role] = [], organizations: [String] = [], workspaces: [String] = []) {
        self.roles = roles
        self.organizations = organizations
        self.workspaces = workspaces
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        roles = try container.decodeIfPresent([Role].self, forKey: .roles) ?? []
        organizations = try container.decodeIfPresent([String].self, forKey: .organizations) ?? []
        workspaces = try container.decodeIfPresent([String].self, forKey: .workspaces) ?? []
    }

    /// A request by `role` of `organizationID`, about `workspaceID` (a launch) or none: a
    /// policy scoped to workspaces covers only requests about one of them.
    public func covers(role: Role?, organizationID: String?, workspaceID: String?) -> Bool {
        if !roles.isEmpty {
            guard let role, roles.contains(role) else { return false }
        }
        if !organizations.isEmpty {
            guard let organizationID, organizations.contains(organizationID) else { return false }
        }
        if !workspaces.isEmpty {
            guard let workspaceID, workspaces.contains(workspaceID) else { return false }
        }
        return true
    }
}
