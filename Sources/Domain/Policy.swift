import Foundation

/// A security policy: a typed rule (`PolicyRule`) for the requests its scope covers, which an
/// administrator writes and switches on and off.
public struct Policy: Sendable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    public var category: String
    public var enabled: Bool
    /// How much this policy weighs in the security score when enabled (see `SecurityScore`).
    public var weight: Int
    public var scope: PolicyScope
    public var rule: PolicyRule
    public var updatedAt: Date

    /// Nil for a kind this version does not know (`kindName` names it).
    public var kind: PolicyKind? { rule.kind }
    public var kindName: String { rule.kindName }

    public init(
        id: String, name: String, description: String, category: String, enabled: Bool, weight: Int,
        scope: PolicyScope = PolicyScope(), rule: PolicyRule, updatedAt: Date
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.category = category
        self.enabled = enabled
        self.weight = weight
        self.scope = scope
        self.rule = rule
        self.updatedAt = updatedAt
    }
}

/// Whom a policy is for: an empty list means everyone (every role, every organisation, every
/// workspace); a request is covered when it matches every list that is not empty.
public struct PolicyScope: Sendable, Equatable, Codable {
    public var roles: [Role]
    public var organizations: [String]
    public var workspaces: [String]

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
