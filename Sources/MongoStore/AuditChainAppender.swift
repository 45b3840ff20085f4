import Domain
import Foundation

/// Appends to the audit chain on MongoDB. An entry's `seq` is unique (an index), so of two
/// replicas that read the same head and append after it, one insert succeeds and the other meets
/// a duplicate key, reads the new head and tries again: the chain stays gap-free and linear
/// without a transaction. Within one process appends take turns here (first come, first served:
/// an actor alone would let the next append in while one awaits the database), so the retry
/// happens only between replicas, and the head the last append wrote is reused.
///
/// Inside a transaction an entry is only staged: inserted with the change, unsealed and marked
/// `pending_seal`, and sealed into the chain as soon as the transaction has committed (or, if
/// the process dies first, by the recovery pass). The chain's head is never written inside a
/// transaction, so replicas' transactions do not conflict over it. Transactions of this process
/// take the same turn, from their start to their end, so that they never conflict with each
/// other over the documents they change (as SQLite's single writer does).
actor AuditChainAppender {
    private struct Head {
        var seq: Int64
        var hash: [UInt8]
        /// The head entry's time, which the next entry's may not precede (`AuditChain.sealed`).
        var timestamp: Date?
    }

    private var head: Head?
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private static let attempts = 32

    /// Only chain entries: a `seq` that is a number from 1 (a value of another type sorts above
    /// numbers and would otherwise pass for the head).
    static let inChain: BSONDocument = ["seq": .document(["$gte": .int(1)])]

    /// - Parameter turnHeld: the caller holds the turn already (`takeTurn`, a change's).
    func append(_ event: AuditEvent, to database: MongoDatabase, turnHeld: Bool = false) async throws -> AuditEvent {
        try await link(event, in: database, turnHeld: turnHeld) { sealed in
            try await database.insert("audit_logs", Self.document(sealed))
            return true
        }
    }

    /// Inserts `event` unsealed, marked `pending_seal`, in the transaction the caller runs in.
    func stage(_ event: AuditEvent, in database: MongoDatabase) async throws {
        var document = Self.document(event)
        document[Self.pending] = .bool(true)
        try await database.insert("audit_logs", document)
    }

    /// The mark of an entry a transaction committed that awaits its seal.
    static let pending = "pending_seal"

    /// Seals an entry stored unsealed (staged by a transaction, or from before the chain existed),
    /// unless another replica sealed it first; its seal, or nil when it was sealed elsewhere.
    /// - Parameter turnHeld: the caller holds the turn already (`takeTurn`, a transaction's).
    @discardableResult
    func seal(_ event: AuditEvent, in database: MongoDatabase, turnHeld: Bool = false) async throws -> AuditSeal? {
        var sealedHere = false
        let sealed = try await link(event, in: database, turnHeld: turnHeld) { sealed in
            let seal = sealed.seal!
            let result = try await database.update(
                "audit_logs", ["_id": .string(event.id), "seq": .document(["$exists": .bool(false)])],
                [
                    "$set": .document([
                        "seq": .int(seal.seq), "timestamp": .date(sealed.timestamp),
                        "prev_hash": .string(Hex.encode(seal.prevHash)), "hash": .string(Hex.encode(seal.hash)),
                    ]),
                    "$unset": .document([Self.pending: .string("")]),
                ])
            sealedHere = result.matched == 1
            return sealedHere
        }
        return sealedHere ? sealed.seal : nil
    }

    /// Seals `event` after the head and hands it to `write`, again after a newer head while
    /// another replica's write took the `seq`. `write` answers false when it stored nothing (the
    /// entry was sealed elsewhere): the head is then read again next time.
    private func link(
        _ event: AuditEvent, in database: MongoDatabase, turnHeld: Bool = false, write: (AuditEvent) async throws -> Bool
    ) async throws -> AuditEvent {
        if !turnHeld { await takeTurn() }
        defer { if !turnHeld { endTurn() } }
        for _ in 0..<Self.attempts {
            let current = try await currentHead(database)
            let sealed = AuditChain.sealed(event, seq: current.seq + 1, after: current.hash, notBefore: current.timestamp)
            do {
                if try await write(sealed) {
                    head = Head(seq: sealed.seal!.seq, hash: sealed.seal!.hash, timestamp: sealed.timestamp)
                } else {
                    head = nil
                }
                return sealed
            } catch let failure as MongoFailure where failure.isDuplicateKey {
                head = nil
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

    /// Waits for the turn (first come, first served); a transaction holds it from its start to
    /// the sealing of its entries.
    func takeTurn() async {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            busy = true
        }
    }

    func endTurn() {
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
            return Head(seq: Int64(seq), hash: hash, timestamp: last["timestamp"]?.date)
        }
        if let anchor = try await database.find(
            "audit_checkpoints", ["kind": .string(AuditCheckpoint.Kind.retention.rawValue)], sort: ["seq": .int(-1)],
            limit: 1
        ).first, let seq = anchor["seq"]?.int, let hash = anchor["hash"]?.string.flatMap(Hex.decode) {
            return Head(seq: Int64(seq), hash: hash, timestamp: nil)
        }
        return Head(seq: 0, hash: AuditChain.genesis, timestamp: nil)
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
