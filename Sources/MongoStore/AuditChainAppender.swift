import Domain
import Foundation

/// Appends to the audit chain on MongoDB. An entry's `seq` is unique (an index), so of two
/// replicas that read the same head and append after it, one insert succeeds and the other meets
/// a duplicate key, reads the new head and tries again: the chain stays gap-free and linear
/// without a transaction. Within one process appends take turns here (first come, first served:
/// an actor alone would let the next append in while one awaits the database), so the retry
/// happens only between replicas, and the head the last append wrote is reused.
///
/// An append inside a transaction keeps the turn until the transaction ends: the entry it wrote
/// is the head only if the transaction commits, so the next append waits to know. The same
/// transaction's next entries follow it in the turn it holds. Another replica's entry taking the
/// `seq` first restarts the transaction (a failed statement has aborted it).
actor AuditChainAppender {
    private struct Head {
        var seq: Int64
        var hash: [UInt8]
    }

    private var head: Head?
    /// The transaction that holds the turn until it ends, if one does.
    private var holder: ObjectIdentifier?
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private static let attempts = 32

    /// Only chain entries: a `seq` that is a number from 1 (a value of another type sorts above
    /// numbers and would otherwise pass for the head).
    static let inChain: BSONDocument = ["seq": .document(["$gte": .int(1)])]

    func append(_ event: AuditEvent, to database: MongoDatabase) async throws -> AuditEvent {
        try await link(event, in: database) { sealed in
            try await database.insert("audit_logs", Self.document(sealed))
            return true
        }
    }

    /// Seals an entry stored before the chain existed, unless another replica sealed it first.
    func seal(_ event: AuditEvent, in database: MongoDatabase) async throws {
        _ = try await link(event, in: database) { sealed in
            let seal = sealed.seal!
            let result = try await database.update(
                "audit_logs", ["_id": .string(event.id), "seq": .document(["$exists": .bool(false)])],
                [
                    "$set": .document([
                        "seq": .int(seal.seq), "timestamp": .date(sealed.timestamp),
                        "prev_hash": .string(Hex.encode(seal.prevHash)), "hash": .string(Hex.encode(seal.hash)),
                    ])
                ])
            return result.matched == 1
        }
    }

    /// Seals `event` after the head and hands it to `write`, again after a newer head while
    /// another replica's write took the `seq`. `write` answers false when it stored nothing (the
    /// entry was sealed elsewhere): the head is then read again next time.
    private func link(
        _ event: AuditEvent, in database: MongoDatabase, write: (AuditEvent) async throws -> Bool
    ) async throws -> AuditEvent {
        let transaction = database.inTransaction ? MongoTransaction.current : nil
        if let transaction {
            if holder != ObjectIdentifier(transaction) {
                await takeTurn()
                holder = ObjectIdentifier(transaction)
                transaction.onEnd { [self] committed in await self.ended(committed: committed) }
            }
        } else {
            await takeTurn()
        }
        defer { if transaction == nil { endTurn() } }
        for _ in 0..<Self.attempts {
            let current = try await currentHead(database)
            let sealed = AuditChain.sealed(event, seq: current.seq + 1, after: current.hash)
            do {
                if try await write(sealed) {
                    head = Head(seq: sealed.seal!.seq, hash: sealed.seal!.hash)
                } else {
                    head = nil
                }
                return sealed
            } catch let failure as MongoFailure where failure.isDuplicateKey {
                head = nil
                if transaction != nil { throw MongoFailure.restart("another replica extended the audit chain first") }
                // Either another replica took this `seq` first (read the head again and retry),
                // or this very entry is stored already (a retried write): it is not appended twice.
                if try await database.findOne("audit_logs", ["_id": .string(event.id), "seq": .document(["$exists": .bool(true)])])
                    != nil
                {
                    throw DomainError.conflict("Audit entry \(event.id) is already in the trail")
                }
            } catch {
                head = nil  // the write may or may not have happened: read the head again
                throw error
            }
        }
        throw DomainError.unavailable("The audit trail is busy; try again")
    }

    /// The transaction holding the turn has ended: what it wrote is the head only if it committed.
    private func ended(committed: Bool) {
        if !committed { head = nil }
        holder = nil
        endTurn()
    }

    private func takeTurn() async {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            busy = true
        }
    }

    private func endTurn() {
        if waiting.isEmpty {
            busy = false
        } else {
            waiting.removeFirst().resume()  // the turn passes on; `busy` stays true
        }
    }

    private func currentHead(_ database: MongoDatabase) async throws -> Head {
        if let head { return head }
        if let last = try await database.find("audit_logs", Self.inChain, sort: ["seq": .int(-1)], limit: 1).first,
            let seq = last["seq"]?.int, let hash = last["hash"]?.string.flatMap(Hex.decode)
        {
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
