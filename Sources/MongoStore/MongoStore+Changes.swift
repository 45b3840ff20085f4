import Domain
import Foundation

/// A change and its audit entries, all or nothing (`AuditStore.atomically`): a multi-document
/// transaction where the deployment has them (a replica set or sharded cluster), a journaled
/// change with an outbox on a standalone server (`ChangeJournal`).
extension MongoStore {
    public func atomically<T: Sendable>(
        _ body: () async throws -> T, published: @escaping @Sendable (AuditSeal) -> Void
    ) async throws -> T {
        // A change inside another joins it.
        if database.inTransaction || database.openJournal != nil { return try await body() }
        return transactional
            ? try await inTransaction(body, published: published) : try await journaled(body, published: published)
    }

    /// One transaction, its entries staged in it and sealed into the chain once it has committed
    /// (`published` is told of each). Within this process changes take turns (the chain's), so they
    /// never conflict with each other; one that meets a transient failure (a write conflict with
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
                try await database.pool.end(transaction, commit: true)
            } catch {
                try? await database.pool.end(transaction, commit: false)
                await chainAppender.endTurn()
                guard let failure = error as? MongoFailure, failure.restartsTransaction else {
                    throw (error as? MongoFailure)?.translated ?? error
                }
                guard ContinuousClock.now < giveUp else {
                    throw DomainError.unavailable("The data store is busy with conflicting changes; try again")
                }
                // Apart, and at random, so that two changes that met do not meet again.
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(1 << min(attempt, 6)))))
                continue
            }
            // Committed with the change, sealed now, in the same turn; should sealing fail here,
            // the recovery pass seals them.
            for entry in transaction.staged {
                guard let seal = try? await chainAppender.seal(entry, in: database, turnHeld: true) else { break }
                published(seal)
            }
            await chainAppender.endTurn()
            return result
        }
    }

    /// How long a change is run again after transient failures before 503 (try again) is answered.
    static let retryBudget = Duration.seconds(5)

    /// One journaled change: undone at once when `body` fails, its entries committed with the
    /// journal and then appended to the chain (`published` is told of each).
    private func journaled<T: Sendable>(
        _ body: () async throws -> T, published: @escaping @Sendable (AuditSeal) -> Void
    ) async throws -> T {
        let journal = try await database.beginChange(lease: changeLease)
        let result: T
        do {
            result = try await ChangeJournal.$current.withValue(journal) { try await body() }
            try await database.commit(journal, entries: journal.close())
        } catch {
            _ = journal.close()
            // Undone now; if that fails too, by the recovery pass once the lease has passed.
            if let steps = try? await database.claimForUndo(journal.id, lease: changeLease, now: nil) {
                try? await database.undo(steps, of: journal.id)
            }
            throw (error as? MongoFailure)?.translated ?? error
        }
        // Committed: the entries are safe in the journal. Should publishing them fail here, the
        // recovery pass publishes them; the change is done either way.
        if (try? await publish(journal.close(), published: published)) != nil {
            try? await database.forget(journal.id)
        }
        return result
    }

    /// Appends entries a journal committed, each once: one already in the trail (a publisher
    /// that died after appending it, or another process's recovery pass) is skipped.
    private func publish(_ entries: [AuditEvent], published: @Sendable (AuditSeal) -> Void) async throws {
        for entry in entries {
            if try await database.findOne("audit_logs", ["_id": .string(entry.id)]) != nil { continue }
            do {
                if let seal = try await chainAppender.append(entry, to: database).seal { published(seal) }
            } catch DomainError.conflict {
                // Appended by another publisher meanwhile.
            }
        }
    }

    /// The recovery pass: seals the entries of committed transactions whose process died before
    /// sealing them (at once: sealing twice is harmless), and, for a standalone server's
    /// journaled changes whose process died, publishes the entries of those that committed and
    /// undoes those that did not, once their lease has passed. Runs at start-up and on a timer
    /// (`App.InterruptedChangeRecovery`).
    public func finishInterruptedChanges(at now: Date) async throws -> InterruptedChanges {
        var report = InterruptedChanges()
        report.published = try await sealStagedEntries()
        let due = try await database.find(
            ChangeJournal.collection, ["lease_until": .document(["$lt": .date(now)])], sort: ["started_at": .int(1)])
        for journal in due {
            guard let id = journal["_id"]?.string else { continue }
            if journal["state"]?.string == "committed" {
                let entries = try (journal["entries"]?.array ?? []).compactMap { try $0.document.map(Self.auditEvent) }
                try await publish(entries, published: { _ in })
                try await database.forget(id)
                report.published += entries.count
            } else if let steps = try await database.claimForUndo(id, lease: changeLease, now: now) {
                try await database.undo(steps, of: id)
                report.undone.append(.init(id: id, writes: steps.count))
            }
        }
        return report
    }
}
