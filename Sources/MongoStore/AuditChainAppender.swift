import Domain
import Foundation

/// Appends to the audit chain on MongoDB. An entry's `seq` is unique (an index), so of two
/// replicas that read the same head and append after it, one insert succeeds and the other meets
/// a duplicate key, reads the new head and tries again: the chain stays gap-free and linear
/// without a transaction. Within one process appends queue here, so that retry happens only
/// between replicas, and the head read by the last append is reused.
actor AuditChainAppender {
    private struct Head {
        var seq: Int64
        var hash: [UInt8]
    }

    private var head: Head?
    private static let attempts = 32

    func append(_ event: AuditEvent, to database: MongoDatabase) async throws -> AuditEvent {
        try await link(event, in: database) { sealed in
            try await database.insert("audit_logs", Self.document(sealed))
        }
    }

    /// Seals an entry stored before the chain existed, unless another replica sealed it first.
    func seal(_ event: AuditEvent, in database: MongoDatabase) async throws {
        _ = try await link(event, in: database) { sealed in
            let seal = sealed.seal!
            _ = try await database.update(
                "audit_logs", ["_id": .string(event.id), "seq": .document(["$exists": .bool(false)])],
                [
                    "$set": .document([
                        "seq": .int(seal.seq), "timestamp": .date(sealed.timestamp),
                        "prev_hash": .string(Hex.encode(seal.prevHash)), "hash": .string(Hex.encode(seal.hash)),
                    ])
                ])
        }
    }

    private func link(
        _ event: AuditEvent, in database: MongoDatabase, write: (AuditEvent) async throws -> Void
    ) async throws -> AuditEvent {
        for _ in 0..<Self.attempts {
            let current = try await currentHead(database)
            let sealed = AuditChain.sealed(event, seq: current.seq + 1, after: current.hash)
            do {
                try await write(sealed)
                head = Head(seq: sealed.seal!.seq, hash: sealed.seal!.hash)
                return sealed
            } catch let failure as MongoFailure where failure.isDuplicateKey {
                // Either another replica took this `seq` first (read the head again and retry),
                // or this very entry is stored already (a retried write): then it is not appended twice.
                if try await database.findOne("audit_logs", ["_id": .string(event.id), "seq": .document(["$exists": .bool(true)])]) != nil {
                    throw DomainError.conflict("Audit entry \(event.id) is already in the trail")
                }
                head = nil
            }
        }
        throw DomainError.unavailable("The audit trail is busy; try again")
    }

    private func currentHead(_ database: MongoDatabase) async throws -> Head {
        if let head { return head }
        if let last = try await database.find(
            "audit_logs", ["seq": .document(["$exists": .bool(true)])], sort: ["seq": .int(-1)], limit: 1
        ).first, let seq = last["seq"]?.int, let hash = last["hash"]?.string.flatMap(Hex.decode) {
            return Head(seq: Int64(seq), hash: hash)
        }
        if let anchor = try await database.find(
            "audit_checkpoints", ["kind": .string(AuditCheckpoint.Kind.retention.rawValue)], sort: ["seq": .int(-1)],
            limit: 1
        ).first, let seq = anchor["seq"]?.int, let hash = anchor["hash"]?.string.flatMap(Hex.decode) {
            return Head(seq: Int64(seq), hash: hash)
        }
        return Head(seq: 0, hash: AuditChain.genesis)
    }

    static func document(_ event: AuditEvent) -> BSONDocument {
        var document: BSONDocument = [
            "_id": .string(event.id), "timestamp": .date(event.timestamp), "user_id": .optional(event.userID),
            "user_email": .optional(event.userEmail), "action": .string(event.action.rawValue),
            "resource_type": .optional(event.resourceType), "resource_id": .optional(event.resourceID),
            "details": .document(
                BSONDocument(event.details.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: .string($0.value)) })),
            "ip_address": .optional(event.ipAddress), "success": .bool(event.success),
        ]
        if let seal = event.seal {
            document["seq"] = .int(seal.seq)
            document["prev_hash"] = .string(Hex.encode(seal.prevHash))
            document["hash"] = .string(Hex.encode(seal.hash))
        }
        return document
    }
}
