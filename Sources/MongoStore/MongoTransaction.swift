import CMongoC
import Domain
import NIOConcurrencyHelpers

/// One multi-document transaction in progress (a replica set or sharded cluster): the pooled
/// client it holds from start to end and the driver session whose `lsid` every statement
/// carries. Statements reach it through `MongoTransaction.current`, so the store's methods join
/// the transaction a change runs in without being told.
///
/// The driver's client and session are not thread-safe: statements run one at a time under
/// `lock`, whichever driver thread they land on (a change that awaits two statements at once
/// still sends them in turn).
final class MongoTransaction: @unchecked Sendable {
    @TaskLocal static var current: MongoTransaction?

    let client: OpaquePointer
    let session: OpaquePointer
    /// The pool the client came from: a transaction serves only its own database's calls.
    let pool: ObjectIdentifier
    private let lock = NIOLock()
    private var open = true
    private var clientReturned = false
    private var entries: [AuditEvent] = []

    init(client: OpaquePointer, session: OpaquePointer, pool: ObjectIdentifier) {
        self.client = client
        self.session = session
        self.pool = pool
    }

    /// False once committed or aborted: a task that outlives the change (it inherited the
    /// TaskLocal) then runs its calls on their own.
    var isOpen: Bool { lock.withLock { open } }

    /// A statement that came after the transaction ended.
    struct Ended: Error {}

    /// Runs one statement with the client and session; `Ended` once the transaction has ended.
    func statement<T>(_ body: (OpaquePointer, OpaquePointer) throws -> T) throws -> T {
        try lock.withLock {
            guard open else { throw Ended() }
            return try body(client, session)
        }
    }

    /// Commits (true) or aborts; the session is destroyed either way and no statement follows.
    /// A commit the server may or may not have applied is retried as the driver specifies
    /// (`UnknownTransactionCommitResult`); any other failure is thrown.
    func end(commit: Bool) throws {
        try lock.withLock {
            guard open else { return }
            open = false
            defer { mongoc_client_session_destroy(session) }
            var error = bson_error_t()
            guard commit else {
                _ = mongoc_client_session_abort_transaction(session, &error)
                return
            }
            for attempt in 1...3 {
                let reply = neosc_bson_reply_new()!
                defer { neosc_bson_reply_free(reply) }
                if mongoc_client_session_commit_transaction(session, reply, &error) { return }
                guard attempt < 3, mongoc_error_has_label(reply, "UnknownTransactionCommitResult") else {
                    throw MongoFailure(error, reply: reply)
                }
            }
        }
    }

    /// True the first time only: the client goes back to the pool once, whatever ends the transaction.
    func returnClient() -> Bool {
        lock.withLock {
            defer { clientReturned = true }
            return !clientReturned
        }
    }

    /// Keeps an entry staged in the transaction, to seal once it has committed.
    func stage(_ entry: AuditEvent) {
        lock.withLock { entries.append(entry) }
    }

    /// The entries staged, in order.
    var staged: [AuditEvent] { lock.withLock { entries } }

}
