import Domain
import Foundation
import NIOConcurrencyHelpers

/// A change on a standalone MongoDB, which has no multi-document transactions, made
/// all-or-nothing with its audit entries by a journal document in `change_journal`:
///
/// 1. The journal is inserted, `open`, with a lease (`lease_until`).
/// 2. Before each write the change makes, what it may overwrite is appended to the journal (the
///    documents the write can reach, as they are, or that there was none); the write then marks
///    what it touches with `_chg: <journal id>`.
/// 3. The change's audit entries wait in memory; at its end one write to the journal sets
///    `committed` and stores them with it (the outbox). That write is the commit point.
/// 4. The entries are appended to the chain, and the journal deleted.
///
/// A change that fails before its commit point is undone at once from its journal. One whose
/// process died is undone by the recovery pass (`recover`) once its lease has passed, and the
/// entries of one that committed but died before publishing them are published then: every
/// change present has exactly its entries, and no entry names a change that is not there.
/// Undoing restores a document only while it still carries this change's mark, so a later
/// change to it stands.
final class ChangeJournal: @unchecked Sendable {
    @TaskLocal static var current: ChangeJournal?

    static let collection = "change_journal"
    /// The states of a change the recovery pass has yet to finish (publish or undo).
    static let unfinishedStates = ["open", "undoing", "committed"]
    /// The field that marks a document with the change that last wrote it.
    static let mark = "_chg"

    let id: String
    /// The pool of the database the journal is in: a change serves only its own database.
    let pool: ObjectIdentifier
    /// After this the change starts no further write: the recovery pass may undo it from
    /// `leaseUntil` on, and a write must not land after its undo.
    let writesUntil: Date
    private let lock = NIOLock()
    private var entries: [AuditEvent] = []
    private var written: [Undo] = []
    private var ended = false

    init(id: String, pool: ObjectIdentifier, lease: Duration, startedAt: Date) {
        self.id = id
        self.pool = pool
        writesUntil = startedAt.addingTimeInterval(Self.seconds(lease) / 2)
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        TimeInterval(duration.components.seconds) + TimeInterval(duration.components.attoseconds) / 1e18
    }

    var isOpen: Bool { lock.withLock { !ended } }

    /// Keeps undo steps the journal document holds, in order: undoing from memory covers a write
    /// that landed after the recovery pass undid the change from its document.
    func remember(_ steps: [Undo]) {
        lock.withLock { written += steps }
    }

    /// The undo steps written so far, oldest first.
    var steps: [Undo] { lock.withLock { written } }

    /// Keeps an entry the change recorded until its commit.
    func hold(_ event: AuditEvent) {
        lock.withLock { entries.append(event) }
    }

    /// The entries held, once: the journal takes no more.
    func close() -> [AuditEvent] {
        lock.withLock {
            ended = true
            return entries
        }
    }

    /// One undo step for document `id` of `collection`.
    struct Undo {
        enum Kind: String {
            /// The change inserted it: undone by deleting it while it carries the change's mark.
            case inserted
            /// The change may update it (`before`): restored while it carries the change's mark.
            case updated
            /// The change may delete it (`before`): inserted again if it is missing.
            case deleted
        }

        var kind: Kind
        var collection: String
        var id: BSON
        var before: BSONDocument?

        var bson: BSON {
            .document([
                "k": .string(kind.rawValue), "c": .string(collection), "id": id, "before": before.map { .document($0) } ?? .null,
            ])
        }

        init(_ kind: Kind, collection: String, id: BSON, before: BSONDocument? = nil) {
            self.kind = kind
            self.collection = collection
            self.id = id
            self.before = before
        }

        init?(_ document: BSONDocument) {
            guard let kind = document["k"]?.string.flatMap(Kind.init(rawValue:)), let collection = document["c"]?.string,
                let id = document["id"]
            else { return nil }
            self.init(kind, collection: collection, id: id, before: document["before"]?.document)
        }
    }

    /// `update` with the mark set beside its own fields (`$set`), or, for a replacement
    /// document, in it.
    func marked(update: BSONDocument) -> BSONDocument {
        guard update.fields.contains(where: { $0.key.hasPrefix("$") }) else { return marked(document: update) }
        var update = update
        var set = update["$set"]?.document ?? [:]
        set[Self.mark] = .string(id)
        update["$set"] = .document(set)
        return update
    }

    func marked(document: BSONDocument) -> BSONDocument {
        var document = document
        document[Self.mark] = .string(id)
        return document
    }
}
