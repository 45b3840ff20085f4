import Domain
import Foundation

/// A change and its audit entries, all or nothing (`AuditStore.atomically`): a multi-document
/// transaction where the deployment has them (a replica set or sharded cluster), a journaled
/// change with an outbox on a standalone server (`ChangeJournal`). Either way, this process's
/// changes take one turn (the audit chain's) from their start to the sealing of their entries,
/// as SQLite's single writer does, so they never conflict with each other.
extension MongoStore {
    public func atomically<T: Sendable>(
        _ body: () async throws -> T, published: @escaping @Sendable (AuditSeal) -> Void
    ) async throws -> T {
        // A change inside another joins it.
        if database.inTransaction || database.openJournal != nil { return try await body() }
        return transactional
            ? try await inTransaction(body, published: published) : try await journaled(body, published: published)
    }

    /// MongoDB's transactions are limited in time and a journal document in size: retention runs
    /// its steps one by one here (it writes its anchor first, and repeating it is harmless).
    public var atomicallyHoldsBulkRemovals: Bool { false }

    /// One transaction, its entries staged in it and sealed into the chain once it has committed
    /// (`published` is told of each). One that meets a transient failure (a write conflict with
    /// another replica's change) runs again from its start, with growing random pauses, for up
    /// to `retryBudget`.
    private func inTransaction<T: Sendable>(
        _ body: () async throws -> T, published: @escaping @Sendable (AuditSeal) -> Void
    ) async throws -> T {
        let giveUp = ContinuousClock.now + Self.retryBudget
        var attempt = 0
        while true {
            attempt += 1
            let transaction = try await database.pool.beginTransaction()
            await chainAppender.takeTurn()
            let result: T
            do {
                result = try await MongoTransaction.$current.withValue(transaction) { try await body() }
            } catch {
                try? await database.pool.end(transaction, commit: false)
                await chainAppender.endTurn()
                guard let failure = error as? MongoFailure, failure.restartsTransaction, ContinuousClock.now < giveUp else {
                    throw Self.reported(error)
                }
                try await Self.pause(before: attempt + 1)
                continue
            }
            do {
                try await database.pool.end(transaction, commit: true)
            } catch {
                await chainAppender.endTurn()
                if let failure = error as? MongoFailure, failure.restartsTransaction, ContinuousClock.now < giveUp {
                    try await Self.pause(before: attempt + 1)
                    continue
                }
                // The commit's outcome is not known (no answer, or a write concern not met): a
                // 503, never a 500, and the caller is told to look before trying again.
                throw (error as? DomainError)
                    ?? DomainError.unavailable("The data store did not confirm the change; check whether it was made before trying again")
            }
            // Committed with the change, sealed now, in the same turn; one that fails here is
            // sealed by the recovery pass.
            for entry in transaction.staged {
                if let seal = try? await chainAppender.seal(entry, in: database, turnHeld: true) { published(seal) }
            }
            await chainAppender.endTurn()
            return result
        }
    }

    /// How long a change is run again after transient failures before 503 (try again) is answered.
    static let retryBudget = Duration.seconds(5)

    /// Apart, and at random, so that two changes that met do not meet again.
    private static func pause(before attempt: Int) async throws {
        try await Task.sleep(for: .milliseconds(Int.random(in: 1...(1 << min(attempt, 6)))))
    }

    /// What the caller sees of a failed change: a refusal as it is, a database failure as 503
    /// when it means unavailable (or busy), as itself otherwise.
    private static func reported(_ error: any Error) -> any Error {
        guard let failure = error as? MongoFailure else { return error }
        if failure.restartsTransaction {
            return DomainError.unavailable("The data store is busy with conflicting changes; try again")
        }
        return failure.translated
    }

    /// One journaled change: undone at once when `body` fails, its entries committed with the
    /// journal and then appended to the chain (`published` is told of each).
    private func journaled<T: Sendable>(
        _ body: () async throws -> T, published: @escaping @Sendable (AuditSeal) -> Void
    ) async throws -> T {
        // The turn first: waiting for it does not eat into the change's lease.
        await chainAppender.takeTurn()
        let journal: ChangeJournal
        do {
            journal = try await database.beginChange(lease: changeLease)
        } catch {
            await chainAppender.endTurn()
            throw Self.reported(error)
        }
        let result: T
        do {
            result = try await ChangeJournal.$current.withValue(journal) { try await body() }
        } catch {
            _ = journal.close()
            await undo(journal)
            await chainAppender.endTurn()
            throw Self.reported(error)
        }
        let entries = journal.close()
        do {
            try await database.commit(journal, entries: entries)
        } catch {
            // Past the commit point or not: the answer was lost, or the recovery pass undid the
            // change meanwhile (it ran past its lease). Look before undoing anything.
            switch try? await database.journalState(journal.id) {
            case "committed", "published":
                break  // committed after all
            case "open", "undoing", "undone":
                await undo(journal)
                await chainAppender.endTurn()
                throw Self.reported(error)
            default:
                // Not known (the database does not answer): left to the recovery pass, which
                // publishes it if it committed and undoes it once its lease has passed if not.
                await chainAppender.endTurn()
                throw DomainError.unavailable(
                    "The data store did not confirm the change; check whether it was made before trying again")
            }
        }
        // Committed: the entries are safe in the journal. Should publishing them fail here, the
        // recovery pass publishes them; the change is done either way.
        if (try? await publish(entries, published: published, turnHeld: true)) != nil {
            try? await database.forget(journal.id)
        }
        await chainAppender.endTurn()
        return result
    }

    /// Undoes a change that will not commit: from its journal while it is open, else (the
    /// recovery pass took it, and a write of it may have landed after) from the steps it kept in
    /// memory that only ever touch what still carries its mark, so that no write of it stands
    /// and no later change is undone. Each step is harmless to apply twice. If this fails too,
    /// the recovery pass undoes it once the lease has passed.
    private func undo(_ journal: ChangeJournal) async {
        if let steps = try? await database.claimForUndo(journal.id, lease: changeLease, now: nil) {
            try? await database.undo(steps, of: journal.id)
        } else {
            let marked = journal.steps.reversed().filter { $0.kind != .deleted }
            try? await database.undo(marked, of: journal.id, recording: true)
        }
    }

    /// Appends entries a journal committed, each once: one already in the trail (a publisher
    /// that died after appending it, or another process's recovery pass) is skipped.
    private func publish(
        _ entries: [AuditEvent], published: @Sendable (AuditSeal) -> Void, turnHeld: Bool = false
    ) async throws {
        for entry in entries {
            if try await database.findOne("audit_logs", ["_id": .string(entry.id)]) != nil { continue }
            do {
                if let seal = try await chainAppender.append(entry, to: database, turnHeld: turnHeld).seal { published(seal) }
            } catch DomainError.conflict {
                // Appended by another publisher meanwhile.
            }
        }
    }

    /// The recovery pass: seals the entries of committed transactions whose process died before
    /// sealing them (at once: sealing twice is harmless), and, for a standalone server's
    /// journaled changes whose process died, publishes the entries of those that committed and
    /// undoes those that did not, once their lease has passed. Runs at start-up and on a timer
    /// (`App.InterruptedChangeRecovery`). One item that fails is reported and the pass goes on.
    public func finishInterruptedChanges(at now: Date) async throws -> InterruptedChanges {
        var report = InterruptedChanges()
        try await sealStagedEntries(into: &report)
        let due = try await database.find(
            ChangeJournal.collection,
            [
                "lease_until": .document(["$lt": .date(now)]),
                "state": .document(["$in": .array(ChangeJournal.unfinishedStates.map { .string($0) })]),
            ],
            sort: ["started_at": .int(1)])
        for journal in due {
            guard let id = journal["_id"]?.string else { continue }
            do {
                if journal["state"]?.string == "committed" {
                    let entries = try (journal["entries"]?.array ?? []).compactMap { try $0.document.map(Self.auditEvent) }
                    try await publish(entries, published: { _ in })
                    try await database.finish(id, as: "published")
                    report.published += entries.count
                } else if let steps = try await database.claimForUndo(id, lease: changeLease, now: now) {
                    try await database.undo(steps, of: id, recording: true)
                    report.undone.append(.init(id: id, writes: steps.count))
                }
            } catch {
                report.failures.append("change \(id): \(error)")
            }
        }
        return report
    }
}
