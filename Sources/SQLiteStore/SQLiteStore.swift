import Domain
import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import SQLiteNIO
import Synchronization

/// The embedded default store: one SQLite file in WAL mode, schema migrated at open.
public struct SQLiteStore: Store, Sendable {
    private let pool: SQLiteConnectionPool
    /// Time per unit of work, waiting for a connection included.
    private let readTimer: Timer
    private let writeTimer: Timer

    private init(pool: SQLiteConnectionPool, metrics: any MetricsFactory) {
        self.pool = pool
        readTimer = Timer(
            label: "store_operation_duration_seconds", dimensions: [("store", "sqlite"), ("operation", "read")], factory: metrics)
        writeTimer = Timer(
            label: "store_operation_duration_seconds", dimensions: [("store", "sqlite"), ("operation", "write")], factory: metrics)
    }

    /// How changes share the writer's transactions (`SQLiteConnectionPool`): at most
    /// `maximumChanges` in one, which stays open for more for at most `maximumDuration`.
    public struct GroupCommit: Sendable {
        public var maximumChanges: Int
        public var maximumDuration: Duration

        public init(maximumChanges: Int = 64, maximumDuration: Duration = .milliseconds(10)) {
            precondition(maximumChanges >= 1, "a transaction holds at least one change")
            self.maximumChanges = maximumChanges
            self.maximumDuration = maximumDuration
        }
    }

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// - Parameters:
    ///   - readers: connections for reads beside the single writer.
    ///   - metrics: where the time of each unit of work is recorded.
    ///   - groupCommit: how changes share transactions.
    public static func open(
        path: String, readers: Int = 4, eventLoopGroup: any EventLoopGroup, logger: Logger,
        metrics: any MetricsFactory = MetricsSystem.factory, groupCommit: GroupCommit = GroupCommit()
    ) async throws -> SQLiteStore {
        precondition(readers >= 1, "at least one reader connection")
        // The writer's thread apart: a change's task runs on it between its statements
        // (`ThreadPoolTaskExecutor`), behind no read.
        let writerThread = NIOThreadPool(numberOfThreads: 1)
        let readerThreads = NIOThreadPool(numberOfThreads: readers)
        writerThread.start()
        readerThreads.start()
        var connections: [SQLiteConnection] = []
        do {
            for _ in 0...readers {
                let connection = try await SQLiteConnection.open(
                    storage: .file(path: path), threadPool: connections.isEmpty ? writerThread : readerThreads, logger: logger,
                    on: eventLoopGroup.any())
                connections.append(connection)
                // Synchronous FULL: an acknowledged write (an audit entry above all) survives power loss.
                try await connection.execute("PRAGMA busy_timeout = 5000")
                try await connection.execute("PRAGMA foreign_keys = ON")
                try await connection.execute("PRAGMA synchronous = FULL")
                try await connection.install(customFunction: lowercased)
                if connections.count == 1 {
                    try await connection.execute("PRAGMA journal_mode = WAL")
                    try await Schema.migrate(connection)
                }
            }
            let writer = connections.removeFirst()
            return SQLiteStore(
                pool: SQLiteConnectionPool(
                    writer: writer, writerThread: writerThread, readers: connections, readerThreads: readerThreads,
                    groupCommit: groupCommit),
                metrics: metrics)
        } catch {
            for connection in connections { try? await connection.closeEvenIfCancelled() }
            try? await writerThread.shutdownGracefully()
            try? await readerThreads.shutdownGracefully()
            throw error
        }
    }

    /// `neosc_lower(text)`: text lower-cased as Swift does it, every script's letters included
    /// (SQLite's own `lower` and `LIKE` fold ASCII letters only), for the users' search.
    static let lowercased = SQLiteCustomFunction("neosc_lower", argumentCount: 1, pure: true) { arguments in
        arguments.first?.string?.lowercased()
    }

    /// The audit chain's head in the writer's open transaction (`ChainHeadCache`).
    var writerChainHead: ChainHeadCache { pool.chainHead }

    /// The audit trail's version as last read (`TrailVersionCache`).
    var knownTrailVersion: TrailVersionCache { pool.trailVersion }

    /// The transaction of this store the current task is inside (`atomically`), if any.
    var openTransaction: OpenTransaction? {
        guard let open = OpenTransaction.current, open.pool === pool, open.isOpen else { return nil }
        return open
    }

    /// Write transactions committed since the store was opened (for tests).
    var commits: Int { get async { await pool.commits } }
    /// Changes waiting for the writer (for tests).
    var waitingForTheWriter: Int { get async { await pool.waitingForTheWriter } }

    public func ping() async throws {
        _ = try await read { try await $0.rows("SELECT 1") }
    }

    public func probeWrite(at now: Date) async throws {
        try await write { connection in
            try await connection.execute(
                "INSERT INTO write_probe (id, written_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at",
                [.init(now)])
        }
    }

    public func close() async throws {
        try await pool.close()
    }

    public func seedDefaults(at now: Date) async throws {
        try await insertMissing(DefaultCatalogue.policies(at: now))
        try await write { connection in
            let count = try await connection.rows("SELECT COUNT(*) AS n FROM workspaces").first?.int("n") ?? 0
            guard count == 0 else { return }
            for workspace in DefaultCatalogue.workspaces(at: now) {
                try await Self.insert(workspace, on: connection)
            }
        }
    }

    // MARK: - Units of work

    /// Runs `body` as one write transaction: every change made through this store inside it, the
    /// audit entries it appends included, is committed together, or none is (issue #14: a change
    /// and its audit entry commit together). Calls inside join it, each as a savepoint, so a
    /// method that fails inside undoes its own part only, as on its own; a nested `atomically`
    /// joins too. Holds the single writer throughout: keep `body` to store calls.
    /// Entries are sealed as they are appended, inside the transaction: `published` is never
    /// needed.
    public func atomically<T: Sendable>(
        _ body: () async throws -> T, published: @escaping @Sendable (AuditSeal) -> Void
    ) async throws -> T {
        if openTransaction != nil { return try await body() }
        return try await write { connection in
            let transaction = OpenTransaction(pool: pool, connection: connection)
            defer { transaction.close() }
            return try await OpenTransaction.$current.withValue(transaction) {
                try await body()
            }
        }
    }

    /// Runs `work` on a reader connection (inside `atomically`: on its transaction's connection,
    /// which sees what the transaction wrote so far).
    func read<T: Sendable>(_ work: (SQLiteConnection) async throws -> T) async throws -> T {
        if let open = openTransaction {
            do {
                return try await work(open.connection)
            } catch {
                throw Self.translated(error)
            }
        }
        let started = DispatchTime.now()
        defer { readTimer.recordInterval(since: started) }
        let connection = try await pool.readers.lease()
        defer { pool.readers.release(connection) }
        do {
            return try await work(connection)
        } catch {
            throw Self.translated(error)
        }
    }

    /// How a unit of work changes the database, for `write`.
    enum Writes {
        /// In several statements: inside `atomically` the work is a savepoint of its own, so that
        /// a failure undoes its part alone.
        case inSeveralStatements
        /// In one statement, its last step: whatever comes before only reads, and nothing after
        /// it can fail. SQLite undoes a failed statement by itself, so a failure leaves nothing to
        /// undo, and inside `atomically` the work needs no savepoint (two statements, each a
        /// hand-off to SQLite's thread pool, fewer).
        case inItsLastStatement
    }

    /// Runs `work` as one change: all of it is committed, or none of it, and it returns once it
    /// is on disk. Changes that arrive together share a transaction (group commit,
    /// `SQLiteConnectionPool`), each in a savepoint of its own, so one that fails is undone alone.
    /// Inside `atomically`, `work` is a savepoint of that change, unless it writes
    /// `inItsLastStatement`.
    func write<T: Sendable>(
        _ writes: Writes = .inSeveralStatements, _ work: (SQLiteConnection) async throws -> T
    ) async throws -> T {
        if let open = openTransaction {
            let connection = open.connection
            if case .inItsLastStatement = writes {
                do {
                    return try await work(connection)
                } catch {
                    // SQLite may have rolled the whole transaction back (a full disk, an I/O error).
                    pool.chainHead.forget()
                    throw Self.translated(error)
                }
            }
            do {
                try await connection.executeEvenIfCancelled("SAVEPOINT unit")
                do {
                    let result = try await work(connection)
                    try await connection.executeEvenIfCancelled("RELEASE unit")
                    return result
                } catch {
                    try? await undo("ROLLBACK TO unit", on: connection)
                    try? await connection.executeEvenIfCancelled("RELEASE unit")
                    throw error
                }
            } catch {
                throw Self.translated(error)
            }
        }
        let started = DispatchTime.now()
        defer { writeTimer.recordInterval(since: started) }
        if #available(macOS 15.0, *), let executor = pool.writerExecutor as? ThreadPoolTaskExecutor {
            return try await withTaskExecutorPreference(executor) { try await change(work) }
        }
        return try await change(work)
    }

    /// One change of the writer's shared transaction (group commit, `SQLiteConnectionPool`): `write`
    /// outside any transaction.
    private func change<T: Sendable>(_ work: (SQLiteConnection) async throws -> T) async throws -> T {
        let opens = try await pool.leaseWriterForChange()
        let connection = pool.writer
        let outcome: Result<T, any Error>
        var failure: (any Error)?
        do {
            if opens {
                // Another process may have appended to the chain since our last transaction.
                pool.chainHead.forget()
                try await connection.executeEvenIfCancelled("BEGIN IMMEDIATE")
            }
            try await connection.executeEvenIfCancelled("SAVEPOINT change")
            do {
                let result = try await work(connection)
                try await connection.executeEvenIfCancelled("RELEASE change")
                outcome = .success(result)
            } catch {
                failure = error
                try await undo("ROLLBACK TO change", on: connection)
                try await connection.executeEvenIfCancelled("RELEASE change")
                outcome = .failure(error)
            }
        } catch {
            // The transaction cannot go on (it did not begin, SQLite rolled it back on a full
            // disk or an I/O error, or this change cannot be undone alone): every change in it
            // fails, with the cause (a full disk is a 503 that says so, not the failed undo).
            let cause = Self.cause(of: failure, undoFailedWith: error)
            try? await undo("ROLLBACK", on: connection)
            await pool.transactionEnded(.failure(cause))
            throw cause
        }
        // Not `try? outcome.get() != nil`: a change may succeed with a nil result.
        let succeeded: Bool
        if case .success = outcome { succeeded = true } else { succeeded = false }
        do {
            if try await pool.changeDone() {
                let committed: Result<Void, any Error>
                do {
                    try await connection.executeEvenIfCancelled("COMMIT")
                    committed = .success(())
                } catch {
                    try? await undo("ROLLBACK", on: connection)
                    committed = .failure(Self.translated(error))
                }
                await pool.transactionEnded(committed)
                try committed.get()
            }
        } catch {
            // The commit failed: this change, if it succeeded, is not on disk either.
            if succeeded { throw Self.translated(error) }
        }
        do {
            return try outcome.get()
        } catch {
            throw Self.translated(error)
        }
    }

    /// Runs a rollback `statement` (`ROLLBACK`, `ROLLBACK TO …`); the chain head it may take back
    /// (`ChainHeadCache`) is forgotten first.
    private func undo(_ statement: String, on connection: SQLiteConnection) async throws {
        pool.chainHead.forget()
        try await connection.executeEvenIfCancelled(statement)
    }

    /// Why a shared transaction broke: the change's own error when SQLite reported the store
    /// unavailable (it then rolled the whole transaction back, so the undo found no savepoint),
    /// else the failed begin or undo, as unavailable.
    private static func cause(of failure: (any Error)?, undoFailedWith error: any Error) -> any Error {
        if let failure, let reason = (failure as? SQLiteError)?.unavailableReason { return DomainError.unavailable(reason) }
        if let reason = (error as? SQLiteError)?.unavailableReason { return DomainError.unavailable(reason) }
        return DomainError.unavailable("The data store could not complete a write; try again shortly")
    }

    private static func translated(_ error: any Error) -> any Error {
        if let error = error as? SQLiteError, let reason = error.unavailableReason {
            return DomainError.unavailable(reason)
        }
        return error
    }
}

/// The write transaction the current task is inside (`SQLiteStore.atomically`), for the store
/// it belongs to: the store's methods called within run on its connection. Closed when the
/// transaction ends, so a task that inherited it and outlives it (a `Task {}` started inside)
/// takes the writer as usual instead of writing on a connection it no longer holds.
final class OpenTransaction: Sendable {
    let pool: SQLiteConnectionPool
    let connection: SQLiteConnection
    private let state = Mutex(true)

    init(pool: SQLiteConnectionPool, connection: SQLiteConnection) {
        self.pool = pool
        self.connection = connection
    }

    var isOpen: Bool { state.withLock { $0 } }
    func close() { state.withLock { $0 = false } }

    @TaskLocal static var current: OpenTransaction?
}
