import Foundation
import SQLiteNIO
import Testing

@testable import SQLiteStore

/// The tally of active users per organisation (`user_tallies`, migration 16) that the triggers on
/// `users` keep, against a count of the users themselves.
@Suite struct UserTallyTests {
    /// Each organisation's (or '' for none) active users and those with a second factor, counted.
    private static func counted(on connection: SQLiteConnection) async throws -> [String] {
        try await connection.query(
            """
            SELECT COALESCE(organization_id, '') AS o, COUNT(*) AS a, SUM(mfa_enabled != 0) AS m
            FROM users WHERE disabled = 0 AND role != 'demo-user' GROUP BY 1 ORDER BY 1
            """
        ).map { "\(try $0.string("o")) \(try $0.int("a")) \(try $0.int("m"))" }
    }

    private static func tallied(on connection: SQLiteConnection) async throws -> [String] {
        try await connection.query("SELECT organization_id AS o, active AS a, active_with_mfa AS m FROM user_tallies ORDER BY 1")
            .map { "\(try $0.string("o")) \(try $0.int("a")) \(try $0.int("m"))" }
    }

    @Test("every insert, move, disable, enable, second factor, role and delete keeps the tally equal to a count, without demo visitors")
    func theTallyFollowsEveryChange() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let connection = try await SQLiteFile.connection(try await SQLiteFile.migrated(in: directory))
        do {
            for organization in ["org-a", "org-b"] {
                _ = try await connection.query(
                    "INSERT INTO organizations (id, name, name_key, created_at) VALUES (?1, ?1, ?1, 0)", [.text(organization)])
            }
            var random = SeededRandom(seed: 16)
            let organizations: [SQLiteData] = [.null, .text("org-a"), .text("org-b")]
            var users: [String] = []
            for step in 0..<400 {
                let choice = users.isEmpty ? 0 : random.next(below: 8)
                let user = users.isEmpty ? "" : users[random.next(below: users.count)]
                switch choice {
                case 0, 1, 2:
                    let id = "user-\(step)"
                    users.append(id)
                    _ = try await connection.query(
                        """
                        INSERT INTO users (id, email, name, organization_id, role, mfa_enabled, disabled, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0)
                        """,
                        [
                            .text(id), .text("\(id)@example.com"), .text(id), organizations[random.next(below: 3)],
                            .text(random.next(below: 3) == 0 ? "demo-user" : "user"),
                            .integer(random.next(below: 2)), .integer(random.next(below: 4) == 0 ? 1 : 0),
                        ])
                case 3:
                    _ = try await connection.query(
                        "UPDATE users SET organization_id = ? WHERE id = ?", [organizations[random.next(below: 3)], .text(user)])
                case 4:
                    _ = try await connection.query("UPDATE users SET disabled = 1 - disabled WHERE id = ?", [.text(user)])
                case 5 where step % 2 == 0:
                    // The organisation and `disabled` at once.
                    _ = try await connection.query(
                        "UPDATE users SET organization_id = ?, disabled = ? WHERE id = ?",
                        [organizations[random.next(below: 3)], .integer(random.next(below: 2)), .text(user)])
                case 5:
                    // Two columns at once, and a change to a column the tally does not follow.
                    _ = try await connection.query(
                        "UPDATE users SET mfa_enabled = 1 - mfa_enabled, disabled = ?, name = 'renamed' WHERE id = ?",
                        [.integer(random.next(below: 2)), .text(user)])
                case 6:
                    _ = try await connection.query(
                        "UPDATE users SET role = CASE role WHEN 'demo-user' THEN 'user' ELSE 'demo-user' END WHERE id = ?", [.text(user)])
                default:
                    _ = try await connection.query("DELETE FROM users WHERE id = ?", [.text(user)])
                    users.removeAll { $0 == user }
                }
                let counted = try await Self.counted(on: connection)
                let tallied = try await Self.tallied(on: connection)
                try #require(tallied == counted, "after step \(step) (change \(choice))")
            }
            #expect(users.count > 50, "the walk kept users to change")
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    @Test("the migration tallies the users already there, and the store reads the tally")
    func theMigrationTalliesExistingUsers() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("neosc.sqlite").path
        let connection = try await SQLiteFile.connection(path)
        do {
            // The schema as it was before the tally.
            for statement in Schema.migrations.prefix(15).joined() { _ = try await connection.query(statement) }
            _ = try await connection.query("PRAGMA user_version = 15")
            _ = try await connection.query("INSERT INTO organizations (id, name, name_key, created_at) VALUES ('org-a', 'A', 'a', 0)")
            let users: [(String, SQLiteData, Int, Int)] = [
                ("u1", .null, 1, 0), ("u2", .null, 0, 0), ("u3", .null, 1, 1), ("u4", .text("org-a"), 1, 0),
                ("u5", .text("org-a"), 0, 0),
            ]
            for (id, organization, mfa, disabled) in users {
                _ = try await connection.query(
                    """
                    INSERT INTO users (id, email, name, organization_id, role, mfa_enabled, disabled, created_at, updated_at)
                    VALUES (?, ?, ?, ?, 'user', ?, ?, 0, 0)
                    """, [.text(id), .text("\(id)@example.com"), .text(id), organization, .integer(mfa), .integer(disabled)])
            }
            // A demo visitor's account, left by a demo: not one of the people counted.
            _ = try await connection.query(
                """
                INSERT INTO users (id, email, name, role, mfa_enabled, disabled, created_at, updated_at)
                VALUES ('u6', 'demo_1@demo.neosc.invalid', 'Demo visitor', 'demo-user', 0, 0, 0, 0)
                """)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()

        let store = try await SQLiteStore.open(path: path, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Harness.logger)
        do {
            #expect(try await store.activeUserCounts(organizationID: nil) == (4, 2))
            #expect(try await store.activeUserCounts(organizationID: "org-a") == (2, 1))
            #expect(try await store.activeUserCounts(organizationID: "org-none") == (0, 0))
            #expect(try await store.activeUserCounts(organizationID: "") == (0, 0), "'' is no organisation's id")
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }
}

/// A small deterministic generator (SplitMix64): the same walk on every run.
private struct SeededRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next(below bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}
