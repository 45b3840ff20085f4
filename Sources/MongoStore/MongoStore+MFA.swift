import Domain
import Foundation

extension MongoStore: MFAStore {
    public func totpEnrollment(userID: String) async throws -> TOTPEnrollment? {
        try await database.findOne("totp_enrollments", ["_id": .string(userID)]).map { document in
            TOTPEnrollment(
                userID: try document.string("_id"), secret: try document.string("secret"),
                recoveryCodeDigests: (document["recovery_codes"]?.array ?? []).compactMap(\.string),
                createdAt: try document.date("created_at"), confirmedAt: document.optionalDate("confirmed_at"))
        }
    }

    /// An upsert of the account's document only while it is unconfirmed: with a confirmed one
    /// there, the upsert's insert meets the duplicate `_id`.
    public func beginEnrollment(_ enrollment: TOTPEnrollment) async throws -> Bool {
        if database.inTransaction,
            try await database.findOne(
                "totp_enrollments", ["_id": .string(enrollment.userID), "confirmed_at": .document(["$ne": .null])]) != nil
        {
            return false
        }
        do {
            _ = try await database.update(
                "totp_enrollments", ["_id": .string(enrollment.userID), "confirmed_at": .null],
                [
                    "$set": .document([
                        "secret": .string(enrollment.secret),
                        "recovery_codes": .array(enrollment.recoveryCodeDigests.map { .string($0) }),
                        "created_at": .date(enrollment.createdAt), "confirmed_at": .null,
                    ])
                ], upsert: true)
            return true
        } catch let failure as MongoFailure where failure.isDuplicateKey {
            if database.inTransaction { throw MongoFailure.restart("the enrolment was confirmed at the same time") }
            return false
        }
    }

    public func confirmEnrollment(userID: String, secret: String, at now: Date) async throws -> Bool {
        guard
            try await database.update(
                "totp_enrollments", ["_id": .string(userID), "secret": .string(secret), "confirmed_at": .null],
                ["$set": .document(["confirmed_at": .date(now)])]
            ).matched == 1
        else { return false }
        _ = try await database.update(
            "users", ["_id": .string(userID)], ["$set": .document(["mfa_enabled": .bool(true), "updated_at": .date(now)])])
        return true
    }

    public func removeEnrollment(userID: String, matching expected: TOTPEnrollment?, at now: Date) async throws -> Bool {
        var filter: BSONDocument = ["_id": .string(userID)]
        if let expected {
            filter["secret"] = .string(expected.secret)
            filter["confirmed_at"] = expected.isConfirmed ? .document(["$ne": .null]) : .null
        }
        guard try await database.delete("totp_enrollments", filter) == 1 else { return false }
        _ = try await database.update(
            "users", ["_id": .string(userID), "mfa_enabled": .bool(true)],
            ["$set": .document(["mfa_enabled": .bool(false), "updated_at": .date(now)])])
        _ = try await database.delete("mfa_challenges", ["user_id": .string(userID)], many: true)
        return true
    }

    public func useRecoveryCode(userID: String, digest: String) async throws -> Bool {
        try await database.update(
            "totp_enrollments",
            ["_id": .string(userID), "confirmed_at": .document(["$ne": .null]), "recovery_codes": .string(digest)],
            ["$pull": .document(["recovery_codes": .string(digest)])]
        ).modified == 1
    }

    public func insert(_ challenge: MFAChallenge) async throws {
        try await database.insert(
            "mfa_challenges",
            [
                "_id": .string(challenge.digest), "user_id": .string(challenge.userID),
                "issued_at": .date(challenge.issuedAt), "expires_at": .date(challenge.expiresAt),
            ])
    }

    public func mfaChallenge(digest: String) async throws -> MFAChallenge? {
        try await database.findOne("mfa_challenges", ["_id": .string(digest)]).map { document in
            MFAChallenge(
                digest: try document.string("_id"), userID: try document.string("user_id"),
                issuedAt: try document.date("issued_at"), expiresAt: try document.date("expires_at"))
        }
    }

    public func removeMFAChallenge(digest: String) async throws -> Bool {
        try await database.delete("mfa_challenges", ["_id": .string(digest)]) == 1
    }

    @discardableResult
    public func removeMFAChallenges(userID: String) async throws -> Int {
        try await database.delete("mfa_challenges", ["user_id": .string(userID)], many: true)
    }
}
