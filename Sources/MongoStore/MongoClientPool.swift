import CMongoC
import Domain
import NIOCore
import NIOPosix

/// Owns the driver's `mongoc_client_pool_t`. Driver calls block, so each runs on the pool's own
/// `NIOThreadPool` (as many threads as clients, so taking a client never waits long), never on
/// an event loop. A call that could not start within `timeout` (all clients busy with slow work)
/// is refused as unavailable instead of running late: a backlog never outlives its callers.
actor MongoClientPool {
    /// The driver's pool is thread-safe; this only carries its pointer across threads.
    struct Handle: @unchecked Sendable {
        let pool: OpaquePointer

        /// A driver pool for a parsed `mongoc_uri_t` (the pool copies what it needs).
        init(uri: OpaquePointer, size: Int) {
            pool = mongoc_client_pool_new(uri)!
            mongoc_client_pool_set_error_api(pool, 2)
            mongoc_client_pool_max_size(pool, UInt32(size))
            mongoc_client_pool_set_appname(pool, "neosc")
        }
    }

    private let handle: Handle
    private let threadPool: NIOThreadPool
    private let timeout: Duration
    private var closed = false

    init(_ handle: Handle, size: Int, timeout: Duration) {
        self.handle = handle
        self.timeout = timeout
        threadPool = NIOThreadPool(numberOfThreads: size)
        threadPool.start()
    }

    /// Runs `body` with a client taken from the pool, on a driver thread.
    func run<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        guard !closed else { throw DomainError.unavailable("The data store is closed") }
        let handle = self.handle
        let deadline = ContinuousClock.now + timeout
        return try await threadPool.runIfActive {
            guard ContinuousClock.now < deadline else {
                throw DomainError.unavailable("The data store is too busy to answer in time; try again shortly")
            }
            let client = mongoc_client_pool_pop(handle.pool)!
            defer { mongoc_client_pool_push(handle.pool, client) }
            return try body(client)
        }
    }

    /// Waits for running calls, then closes every connection.
    func close() async throws {
        guard !closed else { return }
        closed = true
        try await threadPool.shutdownGracefully()
        mongoc_client_pool_destroy(handle.pool)
    }
}
