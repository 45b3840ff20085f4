import Domain
import NIOCore
import NIOPosix
import SQLiteNIO

/// Owns the store's SQLite connections: one writer (SQLite allows one writing transaction at a time)
/// and a few readers that WAL lets run beside it (`ReaderLeases`, under a lock of their own).
/// Callers lease a connection for one unit of work; waiters are served in arrival order. Every SQLite call runs on a `NIOThreadPool` of the
/// store's (the writer's a thread of its own), never on an event loop.
///
/// Group commit (issue #16): changes share the writer's transaction. A change that finds none
/// open opens it; one that is done while others wait for the writer hands the writer on and
/// waits for the commit, unless the transaction already holds `GroupCommit.maximumChanges` of them
/// or has been open for `GroupCommit.maximumDuration`; the last one commits for all. So the changes that arrive while one transaction is synced are committed
/// together by the next: one sync for many, and each change still acknowledged only once it is
/// on disk. (`SQLiteStore.write` runs each change as a savepoint, so it succeeds or fails alone.)
actor SQLiteConnectionPool {
    nonisolated let writer: SQLiteConnection
    /// The audit chain's head in the writer's open transaction, for whoever holds the writer.
    nonisolated let chainHead = ChainHeadCache()
    /// The audit trail's version as last read, until a transaction ends.
    nonisolated let trailVersion = TrailVersionCache()
    private var writerLeased = false
    private var writerWaiters: [CheckedContinuation<Void, Never>] = []
    /// The changes done in the open write transaction, waiting for its commit; nil when none is open.
    private var transaction: [CheckedContinuation<Void, any Error>]?
    /// When the open transaction began.
    private var transactionBegan = ContinuousClock.now
    private let groupCommit: SQLiteStore.GroupCommit
    /// Transactions committed so far (for tests: how many changes shared one).
    private(set) var commits = 0

    nonisolated let readers: ReaderLeases<SQLiteConnection>

    private let threadPools: [NIOThreadPool]
    /// Runs a change's task on the writer's thread (`ThreadPoolTaskExecutor`); `any Sendable`
    /// for the platforms without task executors.
    nonisolated let writerExecutor: (any Sendable)?
    private var closed = false

    init(
        writer: SQLiteConnection, writerThread: NIOThreadPool, readers: [SQLiteConnection], readerThreads: NIOThreadPool,
        groupCommit: SQLiteStore.GroupCommit
    ) {
        self.groupCommit = groupCommit
        self.writer = writer
        self.readers = ReaderLeases(readers)
        threadPools = [writerThread, readerThreads]
        if #available(macOS 15.0, *) {
            writerExecutor = ThreadPoolTaskExecutor(writerThread)
        } else {
            writerExecutor = nil
        }
    }

    private func acquireWriter() async {
        if writerLeased {
            await withCheckedContinuation { writerWaiters.append($0) }
        } else {
            writerLeased = true
        }
    }

    /// Changes waiting for the writer (for tests).
    var waitingForTheWriter: Int { writerWaiters.count }

    private func releaseWriter() {
        if writerWaiters.isEmpty {
            writerLeased = false
        } else {
            // The lease passes straight to the next waiter; `writerLeased` stays true.
            writerWaiters.removeFirst().resume()
        }
    }

    /// Leases the writer for one change; true when the change is to open the transaction (none is).
    func leaseWriterForChange() async throws -> Bool {
        guard !closed else { throw DomainError.unavailable("Store is closed") }
        await acquireWriter()
        guard transaction == nil else { return false }
        transaction = []
        transactionBegan = .now
        return true
    }

    /// A change is done with the writer: it succeeded (its savepoint released) or was undone.
    /// When other changes wait for the writer and the transaction has room, the writer passes to
    /// the next, and this change waits for the commit: it returns false once the transaction is
    /// committed, and throws if the commit failed. A change that failed waits too: its refusal
    /// may rest on what earlier changes in the transaction wrote, which stands only once
    /// committed. Otherwise it returns true: the caller commits now, then calls
    /// `transactionEnded`. (The duration cap is checked here, between changes: one change whose
    /// work is slow keeps the transaction open as long as it takes.)
    func changeDone() async throws -> Bool {
        guard let waiting = transaction else { preconditionFailure("changeDone without an open transaction") }
        guard !closed, !writerWaiters.isEmpty, waiting.count + 1 < groupCommit.maximumChanges,
            ContinuousClock.now - transactionBegan < groupCommit.maximumDuration
        else { return true }
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            transaction!.append(done)
            releaseWriter()
        }
        return false
    }

    /// The open transaction was committed (or rolled back, with the error): tells the changes that
    /// wait for it, and frees the writer.
    func transactionEnded(_ outcome: Result<Void, any Error>) {
        // Before any change in it is acknowledged: its caller reads what it wrote.
        trailVersion.transactionEnded()
        if transaction != nil, case .success = outcome { commits += 1 }
        let waiting = transaction ?? []
        transaction = nil
        for change in waiting { change.resume(with: outcome) }
        releaseWriter()
    }

    /// Closes every connection once the in-flight leases are back, then stops the thread pool.
    func close() async throws {
        guard !closed else { return }
        closed = true
        await acquireWriter()
        await readers.close()
        for connection in readers.connections { try await connection.closeEvenIfCancelled() }
        try await writer.closeEvenIfCancelled()
        for threadPool in threadPools { try await threadPool.shutdownGracefully() }
    }
}
