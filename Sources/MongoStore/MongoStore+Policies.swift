import Domain
import Foundation

extension MongoStore: PolicyStore {
    public func policies() async throws -> [Policy] {
        try await database.find("policies", [:], sort: ["position": .int(1)]).map(Self.policy)
    }

    public func policy(id: String) async throws -> Policy? {
        try await database.findOne("policies", ["_id": .string(id)]).map(Self.policy)
    }

    /// Compare-and-set: the update applies only if `enabled` is still what was read, so a toggle
    /// racing another replica's toggle flips twice rather than once.
    public func setEnabled(id: String, _ enabled: Bool?, at now: Date) async throws -> Policy? {
        for _ in 0..<16 {
            guard let current = try await policy(id: id) else { return nil }
            let target = enabled ?? !current.enabled
            let updated = try await database.findAndModify(
                "policies", ["_id": .string(id), "enabled": .bool(current.enabled)],
                update: ["$set": .document(["enabled": .bool(target), "updated_at": .date(now)])])
            if let updated { return try Self.policy(updated) }
        }
        throw DomainError.conflict("Policy is being changed concurrently; try again")
    }

    /// Also brings the default policies of a store from before typed rules up to date (as the
    /// embedded store's migration 10 does): a kind, a scope and settings, the two that refuse
    /// requests switched off.
    public func insertMissing(_ policies: [Policy]) async throws {
        for (position, policy) in policies.enumerated() {
            _ = try await database.update(
                "policies", ["_id": .string(policy.id)],
                ["$setOnInsert": .document(Self.fields(policy, position: position))], upsert: true)
            var upgrade: BSONDocument = [
                "kind": .string(policy.kindName), "scope": Self.scope(policy.scope),
                "settings": .string(policy.rule.settings.json),
            ]
            // The two that now refuse requests start off; the recording switch keeps its state.
            if policy.kind != .sessionRecording { upgrade["enabled"] = .bool(false) }
            _ = try await database.update(
                "policies", ["_id": .string(policy.id), "kind": .document(["$exists": .bool(false)])],
                ["$set": .document(upgrade)])
        }
    }

    public func insert(_ policy: Policy) async throws {
        do {
            // After the defaults (0, 1, 2), in the order they were created.
            let position = Int(policy.updatedAt.timeIntervalSince1970 * 1_000)
            var document = Self.fields(policy, position: position)
            document["_id"] = .string(policy.id)
            try await database.insert("policies", document)
        } catch let failure as MongoFailure where failure.isDuplicateKey {
            throw DomainError.conflict("A policy with id '\(policy.id)' exists")
        }
    }

    public func replace(_ policy: Policy) async throws -> Bool {
        try await database.update("policies", ["_id": .string(policy.id)], ["$set": .document(Self.fields(policy))]).matched == 1
    }

    public func deletePolicy(id: String) async throws -> Bool {
        try await database.delete("policies", ["_id": .string(id)]) == 1
    }

    static func fields(_ policy: Policy, position: Int? = nil) -> BSONDocument {
        var fields: BSONDocument = [
            "name": .string(policy.name), "description": .string(policy.description), "category": .string(policy.category),
            "enabled": .bool(policy.enabled), "weight": .int(policy.weight), "updated_at": .date(policy.updatedAt),
            "kind": .string(policy.kindName), "scope": scope(policy.scope), "settings": .string(policy.rule.settings.json),
        ]
        if let position { fields["position"] = .int(position) }
        return fields
    }

    static func scope(_ scope: PolicyScope) -> BSON {
        .document([
            "roles": .array(scope.roles.map { .string($0.rawValue) }),
            "organizations": .array(scope.organizations.map { .string($0) }),
            "workspaces": .array(scope.workspaces.map { .string($0) }),
        ])
    }

    static func policy(_ document: BSONDocument) throws -> Policy {
        let kind = try document.string("kind")
        let scopeDocument = document["scope"]?.document ?? [:]
        func strings(_ key: String) -> [String] { (scopeDocument[key]?.array ?? []).compactMap(\.string) }
        let roles = strings("roles").map { ($0, Role(rawValue: $0)) }
        var rule = PolicyRule.stored(kindName: kind, settingsJSON: try document.string("settings"))
        if let unknown = roles.first(where: { $0.1 == nil }) {
            // Dropping it would widen the scope to everyone else's requests.
            rule = .unreadable(kind: kind, problem: "scope.roles holds '\(unknown.0)'")
        }
        return Policy(
            id: try document.string("_id"), name: try document.string("name"),
            description: try document.string("description"), category: try document.string("category"),
            enabled: try document.bool("enabled"), weight: try document.int("weight"),
            scope: PolicyScope(
                roles: roles.compactMap(\.1), organizations: strings("organizations"), workspaces: strings("workspaces")),
            rule: rule,
            updatedAt: try document.date("updated_at"))
    }
}
