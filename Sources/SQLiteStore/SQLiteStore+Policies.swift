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
                    INSERT OR IGNORE INTO policies (id, name, description, category, enabled, weight, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        .text(policy.id), .text(policy.name), .text(policy.description), .text(policy.category),
                        .init(policy.enabled), .init(policy.weight), .init(policy.updatedAt),
                    ])
            }
        }
    }

    static func policy(_ row: SQLiteRow) throws -> Policy {
        Policy(
            id: try row.string("id"), name: try row.string("name"), description: try row.string("description"),
            category: try row.string("category"), enabled: try row.bool("enabled"), weight: try row.int("weight"),
            updatedAt: try row.date("updated_at"))
    }
}
