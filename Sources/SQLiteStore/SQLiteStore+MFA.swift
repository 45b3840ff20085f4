import Domain
import Foundation
import SQLiteNIO

extension SQLiteStore: MFAStore {
    public func totpEnrollment(userID: String) async throws -> TOTPEnrollment? {
        try await read { connection in
            try await connection.rows("SELECT * FROM totp_enrollments WHERE user_id = ?", [.text(userID)]).first.map { row in
                TOTPEnrollment(
                    userID: try row.string("user_id"), secret: try row.string("secret"),
                    recoveryCodeDigests: try row.string("recovery_codes").split(separator: " ").map(String.init),
                    createdAt: try row.date("created_at"), confirmedAt: row.optionalDate("confirmed_at"))
            }
        }
    }

    public func beginEnrollment(_ enrollment: TOTPEnrollment) async throws -> Bool {
        try await write { connection in
            try await connection.changedRows(
                """
                INSERT INTO totp_enrollments (user_id, secret, recovery_codes, created_at, confirmed_at)
                VALUES (?, ?, ?, ?, NULL)
                ON CONFLICT (user_id) DO UPDATE SET
                    secret = excluded.secret, recovery_codes = excluded.recovery_codes, created_at = excluded.created_at
                WHERE confirmed_at IS NULL
                RETURNING 1
                """,
                [
                    .text(enrollment.userID), .text(enrollment.secret),
                    .text(enrollment.recoveryCodeDigests.joined(separator: " ")), .init(enrollment.createdAt),
                ]) == 1
        }
    }

    public func confirmEnrollment(userID: String, secret: String, at now: Date) async throws -> Bool {
        try await write { connection in
            guard
                try await connection.changedRows(
                    """
                    UPDATE totp_enrollments SET confirmed_at = ?
                    WHERE user_id = ? AND secret = ? AND confirmed_at IS NULL RETURNING 1
                    """, [.init(now), .text(userID), .text(secret)]) == 1
            else { return false }
            try await connection.execute(
                "UPDATE users SET mfa_enabled = 1, updated_at = ? WHERE id = ?", [.init(now), .text(userID)])
            return true
        }
    }

    public func removeEnrollment(userID: String, matching expected: TOTPEnrollment?, at now: Date) async throws -> Bool {
        try await write { connection in
            let removed =
                if let expected {
                    try await connection.changedRows(
                        """
                        DELETE FROM totp_enrollments
                        WHERE user_id = ? AND secret = ? AND (confirmed_at IS NOT NULL) = ? RETURNING 1
                        """, [.text(userID), .text(expected.secret), .init(expected.isConfirmed)])
                } else {
                    try await connection.changedRows("DELETE FROM totp_enrollments WHERE user_id = ? RETURNING 1", [.text(userID)])
                }
            guard removed == 1 else { return false }
            try await connection.execute(
                "UPDATE users SET mfa_enabled = 0, updated_at = ? WHERE id = ? AND mfa_enabled = 1",
                [.init(now), .text(userID)])
            try await connection.execute("DELETE FROM mfa_challenges WHERE user_id = ?", [.text(userID)])
            return true
        }
    }

    public func useRecoveryCode(userID: String, digest: String) async throws -> Bool {
        // SQLite's one writer makes the read and the write one step.
        try await write { connection in
            guard
                let row = try await connection.rows(
                    "SELECT recovery_codes FROM totp_enrollments WHERE user_id = ? AND confirmed_at IS NOT NULL",
                    [.text(userID)]
                ).first
            else { return false }
            var digests = try row.string("recovery_codes").split(separator: " ").map(String.init)
            guard let index = digests.firstIndex(of: digest) else { return false }
            digests.remove(at: index)
            try await connection.execute(
                "UPDATE totp_enrollments SET recovery_codes = ? WHERE user_id = ?",
                [.text(digests.joined(separator: " ")), .text(userID)])
            return true
        }
    }

    public func insert(_ challenge: MFAChallenge) async throws {
        try await write {
            try await $0.execute(
                "INSERT INTO mfa_challenges (digest, user_id, issued_at, expires_at) VALUES (?, ?, ?, ?)",
                [.text(challenge.digest), .text(challenge.userID), .init(challenge.issuedAt), .init(challenge.expiresAt)])
        }
    }

    public func mfaChallenge(digest: String) async throws -> MFAChallenge? {
        try await read { connection in
            try await connection.rows("SELECT * FROM mfa_challenges WHERE digest = ?", [.text(digest)]).first.map { row in
                MFAChallenge(
                    digest: try row.string("digest"), userID: try row.string("user_id"),
                    issuedAt: try row.date("issued_at"), expiresAt: try row.date("expires_at"))
            }
        }
    }

    public func removeMFAChallenge(digest: String) async throws -> Bool {
        try await write {
            try await $0.changedRows("DELETE FROM mfa_challenges WHERE digest = ? RETURNING 1", [.text(digest)]) == 1
        }
    }

    @discardableResult
    public func removeMFAChallenges(userID: String) async throws -> Int {
        try await write { try await $0.changedRows("DELETE FROM mfa_challenges WHERE user_id = ? RETURNING 1", [.text(userID)]) }
    }
}
