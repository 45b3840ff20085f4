import Domain
import Foundation
import SQLiteNIO

extension SQLiteStore: PolicyStore {
    public func policies() async throws -> [Policy] {
        try await read { try await $0.rows("SELECT * FROM policies ORDER BY rowid").map(Self.policy) }
    }

    public func policy(id: String) async throws -> Policy? {
        try await read { try await $0.rows("SELECT * FROM policies WHERE id = ?", [.text(id)]).first.map(Self.policy) }
    }

    public func setEnabled(id: String, _ enabled: Bool?, at now: Date) async throws -> Policy? {
        try await write { connection in
            // One statement: a toggle reads and flips the value atomically.
            try await connection.rows(
                """
                UPDATE policies SET enabled = COALESCE(?1, 1 - enabled), updated_at = ?2 WHERE id = ?3 RETURNING *
                """, [enabled.map { .init($0) } ?? .null, .init(now), .text(id)]
            ).first.map(Self.policy)
        }
    }

    public func insertMissing(_ policies: [Policy]) async throws {
        try await write { connection in
            for policy in policies {
                try await connection.execute(
                    """
                    INSERT OR IGNORE INTO policies
                        (id, name, description, category, enabled, weight, updated_at, kind, scope, settings)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, Self.values(policy))
            }
        }
    }

    public func insert(_ policy: Policy) async throws {
        try await write { connection in
            guard
                try await connection.changedRows(
                    """
                    INSERT INTO policies (id, name, description, category, enabled, weight, updated_at, kind, scope, settings)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING 1
                    """, Self.values(policy)) == 1
            else { throw DomainError.conflict("A policy with id '\(policy.id)' exists") }
        }
    }

    public func replace(_ policy: Policy) async throws -> Bool {
        try await write { connection in
            try await connection.changedRows(
                """
                UPDATE policies SET name = ?2, description = ?3, category = ?4, enabled = ?5, weight = ?6,
                    updated_at = ?7, kind = ?8, scope = ?9, settings = ?10
                WHERE id = ?1 RETURNING 1
                """, Self.values(policy)) == 1
        }
    }

    public func deletePolicy(id: String) async throws -> Bool {
        try await write { try await $0.changedRows("DELETE FROM policies WHERE id = ? RETURNING 1", [.text(id)]) == 1 }
    }

    static func values(_ policy: Policy) -> [SQLiteData] {
        [
            .text(policy.id), .text(policy.name), .text(policy.description), .text(policy.category),
            .init(policy.enabled), .init(policy.weight), .init(policy.updatedAt), .text(policy.kindName),
            .text(policy.scope.json), .text(policy.rule.settings.json),
        ]
    }

    static func policy(_ row: SQLiteRow) throws -> Policy {
        let kind = try row.string("kind")
        var rule = PolicyRule.stored(kindName: kind, settingsJSON: try row.string("settings"))
        let scope: PolicyScope
        do {
            scope = try PolicyScope(json: try row.string("scope"))
        } catch {
            // An unreadable scope must not widen to everyone's requests, nor stop every request:
            // the policy refuses (everyone) until it is fixed (`neosc admin disable-policy`).
            scope = PolicyScope()
            rule = .unreadable(kind: kind, problem: "its scope does not read")
        }
        return Policy(
            id: try row.string("id"), name: try row.string("name"), description: try row.string("description"),
            category: try row.string("category"), enabled: try row.bool("enabled"), weight: try row.int("weight"),
            scope: scope, rule: rule,
            updatedAt: try row.date("updated_at"))
    }
}
