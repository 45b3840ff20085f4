import Domain
import Foundation
import SQLiteNIO

extension SQLiteStore: TokenStore {
    public func insert(_ token: AccessToken) async throws {
        try await write { connection in
            try await connection.execute(
                """
                INSERT INTO tokens (digest, user_id, issued_at, expires_at, revoked_at, mfa_verified, claims)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(token.digest), .text(token.userID), .init(token.issuedAt), .init(token.expiresAt),
                    .init(token.revokedAt), .init(token.mfaVerified), .text(Self.json(claims: token.claims)),
                ])
        }
    }

    public func token(digest: String) async throws -> AccessToken? {
        try await read { connection in
            try await connection.rows("SELECT * FROM tokens WHERE digest = ?", [.text(digest)]).first.map(Self.token)
        }
    }

    public func tokens(digests: [String]) async throws -> [AccessToken] {
        guard !digests.isEmpty else { return [] }
        return try await read { try await $0.rows(of: "tokens", where: "digest", isIn: digests).map(Self.token) }
    }

    public func tokensWithHolders(digests: [String]) async throws -> [(token: AccessToken, holder: User?)] {
        guard !digests.isEmpty else { return [] }
        return try await read { connection in
            // One row per token with its account's columns beside its own: the two tables share
            // no column name, so each decoder finds its columns by name (a conformance test reads
            // both ways and compares). No account: its columns are null.
            try await connection.rows(
                of: "tokens LEFT JOIN users ON users.id = tokens.user_id", where: "tokens.digest", isIn: digests,
                selecting: "tokens.*, users.*"
            ).map { row in
                (try Self.token(row), row.column("id")?.isNull == false ? try Self.user(row) : nil)
            }
        }
    }

    static func token(_ row: SQLiteRow) throws -> AccessToken {
        AccessToken(
            digest: try row.string("digest"), userID: try row.string("user_id"),
            issuedAt: try row.date("issued_at"), expiresAt: try row.date("expires_at"),
            revokedAt: row.optionalDate("revoked_at"), mfaVerified: try row.bool("mfa_verified"),
            claims: Self.claims(json: try row.string("claims")))
    }

    static func json(claims: Set<String>) -> String {
        (try? String(decoding: JSONEncoder().encode(claims.sorted()), as: UTF8.self)) ?? "[]"
    }

    /// Claims that do not read prove nothing: none.
    static func claims(json: String) -> Set<String> {
        Set((try? JSONDecoder().decode([String].self, from: Data(json.utf8))) ?? [])
    }

    public func revoke(digest: String, at now: Date) async throws -> Bool {
        try await write { connection in
            try await connection.changedRows(
                "UPDATE tokens SET revoked_at = ? WHERE digest = ? AND revoked_at IS NULL RETURNING 1",
                [.init(now), .text(digest)]) == 1
        }
    }

    public func revokeAll(userID: String, at now: Date) async throws -> Int {
        try await write { connection in
            try await connection.changedRows(
                "UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? RETURNING 1",
                [.init(now), .text(userID), .init(now)])
        }
    }

    public func revokeAll(userID: String, except kept: String, at now: Date) async throws -> Int {
        try await write { connection in
            try await connection.changedRows(
                """
                UPDATE tokens SET revoked_at = ?
                WHERE user_id = ? AND digest != ? AND revoked_at IS NULL AND expires_at > ? RETURNING 1
                """,
                [.init(now), .text(userID), .text(kept), .init(now)])
        }
    }

    public func setExpiry(userID: String, to expiresAt: Date, at now: Date) async throws {
        try await write {
            try await $0.execute(
                "UPDATE tokens SET expires_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?",
                [.init(expiresAt), .text(userID), .init(now)])
        }
    }

    public func purgeExpired(before cutoff: Date) async throws -> Int {
        try await write { connection in
            try await connection.execute("DELETE FROM redeemed_nonces WHERE expires_at < ?", [.init(cutoff)])
            try await connection.execute("DELETE FROM login_unlocks WHERE at < ?", [.init(cutoff)])
            try await connection.execute("DELETE FROM mfa_challenges WHERE expires_at < ?", [.init(cutoff)])
            try await connection.execute("DELETE FROM stream_tickets WHERE expires_at < ?", [.init(cutoff)])
            return try await connection.changedRows("DELETE FROM tokens WHERE expires_at < ? RETURNING 1", [.init(cutoff)])
        }
    }
}

extension SQLiteStore: NonceStore {
    public func redeem(nonce digest: String, until expiresAt: Date, at now: Date) async throws -> Bool {
        try await write { connection in
            // An expired record of the same nonce no longer counts; SQLite's one writer makes the
            // delete and the insert one step.
            try await connection.execute(
                "DELETE FROM redeemed_nonces WHERE digest = ? AND expires_at <= ?", [.text(digest), .init(now)])
            return try await connection.changedRows(
                "INSERT INTO redeemed_nonces (digest, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING 1",
                [.text(digest), .init(expiresAt)]) == 1
        }
    }
}

extension SQLiteStore: LoginUnlockStore {
    public func insert(_ unlock: LoginUnlock) async throws {
        try await write {
            try await $0.execute(
                "INSERT INTO login_unlocks (id, email, at) VALUES (?, ?, ?)",
                [.text(unlock.id), .text(unlock.email), .init(unlock.at)])
        }
    }

    public func unlocks(since: Date) async throws -> [LoginUnlock] {
        try await read { connection in
            try await connection.rows("SELECT id, email, at FROM login_unlocks WHERE at >= ? ORDER BY at", [.init(since)])
                .map { try LoginUnlock(id: $0.string("id"), email: $0.string("email"), at: $0.date("at")) }
        }
    }
}
