import Domain
import Foundation

/// The journal of a change on a standalone server (`ChangeJournal`): its document, the undo
/// steps written ahead of each write, the commit point and the undoing.
extension MongoDatabase {
    /// The open journal of a change on this database that the calling task runs in, if any.
    var openJournal: ChangeJournal? {
        ChangeJournal.current.flatMap { $0.pool == ObjectIdentifier(pool) && $0.isOpen ? $0 : nil }
    }

    /// Runs `body` outside any journal: the journal's own reads and writes are not journaled.
    func unjournaled<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await ChangeJournal.$current.withValue(nil) { try await body() }
    }

    /// Inserts the journal of a change starting now, `open` until `lease` has passed.
    func beginChange(lease: Duration) async throws -> ChangeJournal {
        let now = Date()
        let journal = ChangeJournal(id: Identifier.make("chg"), pool: ObjectIdentifier(pool), lease: lease, startedAt: now)
        try await unjournaled {
            try await insert(
                ChangeJournal.collection,
                [
                    "_id": .string(journal.id), "state": .string("open"), "started_at": .date(now),
                    "lease_until": .date(now.addingTimeInterval(ChangeJournal.seconds(lease))), "undo": .array([]),
                ])
        }
        return journal
    }

    /// Writes the undo steps for a write to `collection` that may reach the documents matching
    /// `filter` (`one`: the first in `sort` order), before it runs, and answers the filter the
    /// write must use: `filter` narrowed to the documents journaled, so that one which starts
    /// matching meanwhile is not written without its undo step. `upsertID`: the `_id` an upsert
    /// names in its filter, inserted when nothing matches.
    ///
    /// A document another change still open (or being undone) wrote last is refused with 503
    /// (try again): undoing either would otherwise undo the other's write, or keep its own.
    func journalWrite(
        _ journal: ChangeJournal, to collection: String, matching filter: BSONDocument, sort: BSONDocument? = nil,
        one: Bool, deleting: Bool = false, upsertID: BSON? = nil
    ) async throws -> BSONDocument {
        try await unjournaled {
            // A write that reaches one document reaches the first match; a few more are kept in
            // case another writer changes which one that is meanwhile (only the document the
            // change marks is ever restored).
            let reachable = try await find(collection, filter, sort: sort, limit: one ? (deleting ? 1 : 16) : 0)
            try await refuseIfAnotherChangeIsOpen(on: reachable, besides: journal)
            var steps = reachable.compactMap { document in
                document["_id"].map { ChangeJournal.Undo(deleting ? .deleted : .updated, collection: collection, id: $0, before: document) }
            }
            if reachable.isEmpty, let upsertID { steps.append(.init(.inserted, collection: collection, id: upsertID)) }
            try await append(steps, to: journal)
            return ["$and": .array([.document(filter), .document(Self.unchanged(reachable, creating: upsertID != nil, by: journal))])]
        }
    }

    /// Matches only the documents journaled, each while it still carries the mark it had when it
    /// was read: a document that starts matching meanwhile is not written without its undo step,
    /// and one another change wrote meanwhile is left to that change. For an upsert that found
    /// nothing, matches nothing that exists (`_chg_new` is never stored but by the upsert's own
    /// insert), so a document inserted meanwhile makes it fail as a duplicate key instead of
    /// being taken over.
    private static func unchanged(_ reachable: [BSONDocument], creating: Bool, by journal: ChangeJournal) -> BSONDocument {
        guard !reachable.isEmpty else {
            return creating ? ["_chg_new": .string(journal.id)] : ["_id": .document(["$in": .array([])])]
        }
        return [
            "$or": .array(
                reachable.compactMap { document in
                    document["_id"].map { id in
                        .document([
                            "_id": id,
                            ChangeJournal.mark: document[ChangeJournal.mark] ?? .document(["$exists": .bool(false)]),
                        ])
                    }
                })
        ]
    }

    private func refuseIfAnotherChangeIsOpen(on documents: [BSONDocument], besides journal: ChangeJournal) async throws {
        let others = Set(documents.compactMap { $0[ChangeJournal.mark]?.string }).subtracting([journal.id])
        guard !others.isEmpty else { return }
        let open = try await count(
            ChangeJournal.collection,
            [
                "_id": .document(["$in": .array(others.sorted().map { .string($0) })]),
                "state": .document(["$in": .array([.string("open"), .string("undoing")])]),
            ])
        guard open == 0 else { throw DomainError.unavailable("Another change to this record is in progress; try again") }
    }

    /// Writes the undo step for an insert of `document` into `collection`, before it runs.
    func journalInsert(_ journal: ChangeJournal, into collection: String, _ document: BSONDocument) async throws {
        guard let id = document["_id"] else {
            throw DomainError.invalid("A document written in a change needs its _id")
        }
        try await unjournaled { try await append([.init(.inserted, collection: collection, id: id)], to: journal) }
    }

    private func append(_ steps: [ChangeJournal.Undo], to journal: ChangeJournal) async throws {
        guard Date() < journal.writesUntil else { throw Self.changeTooSlow }
        guard !steps.isEmpty else { return }
        let written = try await update(
            ChangeJournal.collection, ["_id": .string(journal.id), "state": .string("open")],
            ["$push": .document(["undo": .document(["$each": .array(steps.map(\.bson))])])])
        guard written.matched == 1 else { throw Self.changeTooSlow }
        journal.remember(steps)
    }

    static let changeTooSlow = DomainError.unavailable(
        "The change took too long and was undone; try again")

    /// The commit point: the journal becomes `committed`, holding the change's entries (the
    /// outbox). Refused when the recovery pass already took the journal to undo it.
    func commit(_ journal: ChangeJournal, entries: [AuditEvent]) async throws {
        let written = try await unjournaled {
            try await update(
                ChangeJournal.collection, ["_id": .string(journal.id), "state": .string("open")],
                [
                    "$set": .document([
                        "state": .string("committed"), "entries": .array(entries.map { .document(AuditChainAppender.document($0)) }),
                    ])
                ])
        }
        guard written.matched == 1 else { throw Self.changeTooSlow }
    }

    /// Takes journal `id` to undo it: an `open` one this process gives up on (`now` is nil), or,
    /// in the recovery pass, one whose lease has passed (`open`, or being undone by a process
    /// that died meanwhile). Answers the undo steps, newest first, or nil if it is not to be undone.
    func claimForUndo(_ id: String, lease: Duration, now: Date?) async throws -> [ChangeJournal.Undo]? {
        var filter: BSONDocument = ["_id": .string(id)]
        if let now {
            filter["state"] = .document(["$in": .array([.string("open"), .string("undoing")])])
            filter["lease_until"] = .document(["$lt": .date(now)])
        } else {
            filter["state"] = .string("open")
        }
        let claimed = try await unjournaled {
            try await findAndModify(
                ChangeJournal.collection, filter,
                update: [
                    "$set": .document([
                        "state": .string("undoing"),
                        "lease_until": .date((now ?? Date()).addingTimeInterval(ChangeJournal.seconds(lease))),
                    ])
                ])
        }
        guard let claimed else { return nil }
        let steps = (claimed["undo"]?.array ?? []).compactMap { $0.document.flatMap(ChangeJournal.Undo.init) }
        return steps.reversed()
    }

    /// Applies undo steps (newest first), then deletes journal `id`, or, for the recovery pass
    /// (`recording`), leaves it marked `undone` for a day, so that the change's own process, should
    /// it still be running, learns what became of it. Each step is safe to apply twice: a process
    /// that dies while undoing leaves the rest to the next pass.
    func undo(_ steps: [ChangeJournal.Undo], of id: String, recording: Bool = false) async throws {
        try await unjournaled {
            for step in steps {
                let marked: BSONDocument = ["_id": step.id, ChangeJournal.mark: .string(id)]
                switch step.kind {
                case .inserted:
                    _ = try await delete(step.collection, marked)
                case .updated:
                    guard let before = step.before else { continue }
                    _ = try await replace(step.collection, marked, with: before)
                case .deleted:
                    guard let before = step.before else { continue }
                    if try await findOne(step.collection, ["_id": step.id]) == nil {
                        do {
                            try await insert(step.collection, before)
                        } catch let failure as MongoFailure where failure.isDuplicateKey {
                            // Written again meanwhile: that write stands.
                        }
                    }
                }
            }
            if recording {
                try await finish(id, as: "undone")
            } else {
                _ = try await delete(ChangeJournal.collection, ["_id": .string(id)])
            }
        }
    }

    /// Deletes a journal whose change committed and whose entries are in the chain.
    func forget(_ id: String) async throws {
        _ = try await unjournaled { try await delete(ChangeJournal.collection, ["_id": .string(id)]) }
    }

    /// Leaves journal `id` as `state` (`published` or `undone`), without its steps and entries,
    /// until a TTL index removes it a day later.
    func finish(_ id: String, as state: String) async throws {
        _ = try await unjournaled {
            try await update(
                ChangeJournal.collection, ["_id": .string(id)],
                [
                    "$set": .document(["state": .string(state), "finished_at": .date(Date())]),
                    "$unset": .document(["undo": .string(""), "entries": .string("")]),
                ])
        }
    }

    /// What became of journal `id`: its state, or nil when it is gone (its own process deleted
    /// it, or a day has passed since the recovery pass finished it).
    func journalState(_ id: String) async throws -> String? {
        try await unjournaled { try await findOne(ChangeJournal.collection, ["_id": .string(id)])?["state"]?.string }
    }
}
