import Domain
import NIOCore
import NIOPosix
import SQLiteNIO

/// Owns the store's SQLite connections: one writer (SQLite allows one writing transaction at a time)
/// and a few readers that WAL lets run beside it. Callers lease a connection for one unit of work;
/// waiters are served in arrival order. Every SQLite call runs on the pool's own `NIOThreadPool`,
/// never on an event loop.
actor SQLiteConnectionPool {
    private let writer: SQLiteConnection
    private var writerLeased = false
    private var writerWaiters: [CheckedContinuation<Void, Never>] = []

    private let readers: [SQLiteConnection]
    private var idleReaders: [SQLiteConnection]
    private var readerWaiters: [CheckedContinuation<SQLiteConnection, Never>] = []

    private let threadPool: NIOThreadPool
    private var closed = false

    init(writer: SQLiteConnection, readers: [SQLiteConnection], threadPool: NIOThreadPool) {
        self.writer = writer
        self.readers = readers
        self.idleReaders = readers
        self.threadPool = threadPool
    }

    func leaseWriter() async throws -> SQLiteConnection {
        guard !closed else { throw DomainError.unavailable("Store is closed") }
        await acquireWriter()
        return writer
    }

    private func acquireWriter() async {
        if writerLeased {
            await withCheckedContinuation { writerWaiters.append($0) }
        } else {
            writerLeased = true
        }
    }

    func releaseWriter() {
        if writerWaiters.isEmpty {
            writerLeased = false
        } else {
            // The lease passes straight to the next waiter; `writerLeased` stays true.
            writerWaiters.removeFirst().resume()
        }
    }

    func leaseReader() async throws -> SQLiteConnection {
        guard !closed else { throw DomainError.unavailable("Store is closed") }
        if let connection = idleReaders.popLast() {
            return connection
        }
        return await withCheckedContinuation { readerWaiters.append($0) }
    }

    func releaseReader(_ connection: SQLiteConnection) {
        if readerWaiters.isEmpty {
            idleReaders.append(connection)
        } else {
            readerWaiters.removeFirst().resume(returning: connection)
        }
    }

    /// Closes every connection once the in-flight leases are back, then stops the thread pool.
    func close() async throws {
        guard !closed else { return }
        closed = true
        await acquireWriter()
        while idleReaders.count < readers.count {
            idleReaders.append(await withCheckedContinuation { readerWaiters.append($0) })
        }
        for connection in readers { try await connection.close() }
        try await writer.close()
        try await threadPool.shutdownGracefully()
    }
}
