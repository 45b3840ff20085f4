import CMongoC
import Domain
import NIOCore
import NIOPosix

/// Owns the driver's `mongoc_client_pool_t`. Driver calls block, so each runs on the pool's own
/// `NIOThreadPool` (as many threads as clients, so taking a client never waits long), never on
/// an event loop. A call that could not start within `timeout` (all clients busy with slow work)
/// is refused as unavailable instead of running late: a backlog never outlives its callers.
///
/// A transaction holds a client from its start to its end, across awaits. So that a call never
/// waits for a client a transaction holds (and a thread blocked on one can never be the thread
/// that transaction needs next), the driver pool has `transactionSlots` clients beyond one per
/// thread, and at most that many transactions are open at once; the next waits its turn.
actor MongoClientPool {
    /// The driver's pool is thread-safe; this only carries its pointer across threads.
    struct Handle: @unchecked Sendable {
        let pool: OpaquePointer

        /// A driver pool for a parsed `mongoc_uri_t` (the pool copies what it needs).
        init(uri: OpaquePointer, size: Int) {
            pool = mongoc_client_pool_new(uri)!
            mongoc_client_pool_set_error_api(pool, 2)
            mongoc_client_pool_max_size(pool, UInt32(size + MongoClientPool.transactionSlots(size)))
            mongoc_client_pool_set_appname(pool, "neosc")
        }
    }

    private let handle: Handle
    private let threadPool: NIOThreadPool
    private let timeout: Duration
    private(set) var closed = false
    private let slots: Int
    private var transactionsOpen = 0
    private var waitingForSlot: [CheckedContinuation<Void, Never>] = []
    /// `close` waiting for the open transactions to end.
    private var waitingForTransactions: [CheckedContinuation<Void, Never>] = []

    /// How many transactions a pool of `size` connections runs at once: half of it, at least one.
    static func transactionSlots(_ size: Int) -> Int { max(1, size / 2) }

    init(_ handle: Handle, size: Int, timeout: Duration) {
        self.handle = handle
        self.timeout = timeout
        slots = Self.transactionSlots(size)
        threadPool = NIOThreadPool(numberOfThreads: size)
        threadPool.start()
    }

    /// Runs `body` on a driver thread with a client and, inside a transaction of this pool's, its
    /// session (whose `lsid` each statement must carry); otherwise with a client of its own and
    /// no session.
    func run<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer, OpaquePointer?) throws -> T) async throws -> T {
        guard !closed else { throw DomainError.unavailable("The data store is closed") }
        let handle = self.handle
        let deadline = ContinuousClock.now + timeout
        let transaction = MongoTransaction.current.flatMap { $0.pool == ObjectIdentifier(self) && $0.isOpen ? $0 : nil }
        return try await onDriverThread {
            guard ContinuousClock.now < deadline else {
                throw DomainError.unavailable("The data store is too busy to answer in time; try again shortly")
            }
            if let transaction {
                do {
                    return try transaction.statement { client, session in try body(client, session) }
                } catch is MongoTransaction.Ended {
                    // A task that outlived its change: its call stands on its own.
                }
            }
            let client = mongoc_client_pool_pop(handle.pool)!
            defer { mongoc_client_pool_push(handle.pool, client) }
            return try body(client, nil)
        }
    }

    /// Starts a transaction on a client it keeps until `end`.
    func beginTransaction() async throws -> MongoTransaction {
        guard !closed else { throw DomainError.unavailable("The data store is closed") }
        await takeSlot()
        guard !closed else {
            releaseSlot()
            throw DomainError.unavailable("The data store is closed")
        }
        let handle = self.handle
        let identity = ObjectIdentifier(self)
        do {
            return try await onDriverThread {
                let client = mongoc_client_pool_pop(handle.pool)!
                var error = bson_error_t()
                guard let session = mongoc_client_start_session(client, nil, &error) else {
                    mongoc_client_pool_push(handle.pool, client)
                    throw MongoFailure(error).translated
                }
                guard mongoc_client_session_start_transaction(session, nil, &error) else {
                    mongoc_client_session_destroy(session)
                    mongoc_client_pool_push(handle.pool, client)
                    throw MongoFailure(error).translated
                }
                return MongoTransaction(client: client, session: session, pool: identity)
            }
        } catch {
            releaseSlot()
            throw error
        }
    }

    /// Commits or aborts `transaction` and gives its client back, whatever the outcome.
    func end(_ transaction: MongoTransaction, commit: Bool) async throws {
        guard transaction.returnClient() else { return }
        defer { releaseSlot() }
        let handle = self.handle
        try await onDriverThread {
            defer { mongoc_client_pool_push(handle.pool, transaction.client) }
            try transaction.end(commit: commit)
        }
    }

    /// Runs `body` on one of the pool's threads, in a cancelled task too. `NIOThreadPool`'s async
    /// `runIfActive` skips the job of a task cancelled before it runs: a request given up midway
    /// skipped its transaction's abort, and the client it held never went back to the driver's
    /// pool, which, once out of clients, blocks every call for good. Here a change that has begun
    /// runs to its end; a call is skipped only when the pool has stopped.
    private nonisolated func onDriverThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            threadPool.submit { state in
                guard case .active = state else {
                    return continuation.resume(throwing: DomainError.unavailable("The data store is closed"))
                }
                continuation.resume(with: Result(catching: body))
            }
        }
    }

    private func takeSlot() async {
        if transactionsOpen < slots {
            transactionsOpen += 1
        } else {
            await withCheckedContinuation { waitingForSlot.append($0) }  // the slot passes on
        }
    }

    private func releaseSlot() {
        if waitingForSlot.isEmpty {
            transactionsOpen -= 1
            if transactionsOpen == 0 { stopWaitingForTransactions() }
        } else {
            waitingForSlot.removeFirst().resume()
        }
    }

    private func stopWaitingForTransactions() {
        for waiting in waitingForTransactions { waiting.resume() }
        waitingForTransactions = []
    }

    /// Waits for the open transactions to end (each gives its client back; their next calls find
    /// the pool closed, so they end soon), for at most the call timeout, then for running calls,
    /// and closes every connection. Stopping the threads first would drop a queued commit or
    /// abort, whose client the driver's pool would then be destroyed without.
    func close() async throws {
        guard !closed else { return }
        closed = true
        // Changes waiting for a transaction find the pool closed (503) instead of waiting forever;
        // each holds the slot it is given until it gives it back.
        transactionsOpen += waitingForSlot.count
        for waiting in waitingForSlot { waiting.resume() }
        waitingForSlot = []
        if transactionsOpen > 0 {
            let timeout = self.timeout
            let bound = Task {
                try await Task.sleep(for: timeout)
                self.stopWaitingForTransactions()
            }
            await withCheckedContinuation { waitingForTransactions.append($0) }
            bound.cancel()
        }
        let clientsOut = transactionsOpen > 0
        try await threadPool.shutdownGracefully()
        // The driver must have every client back before its pool is destroyed; past the timeout a
        // transaction that never ended keeps it (the process is stopping: the memory goes with it).
        if !clientsOut { mongoc_client_pool_destroy(handle.pool) }
    }
}
