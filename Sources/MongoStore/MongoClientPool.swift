import CMongoC
import Domain
import NIOCore
import NIOPosix

/// Owns the driver's `mongoc_client_pool_t`. Driver calls block, so each runs on the pool's own
/// `NIOThreadPool` (as many threads as clients, so taking a client never waits long), never on
/// an event loop.
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
    private var closed = false

    init(_ handle: Handle, size: Int) {
        self.handle = handle
        threadPool = NIOThreadPool(numberOfThreads: size)
        threadPool.start()
    }

    /// Runs `body` with a client taken from the pool, on a driver thread.
    func run<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        guard !closed else { throw DomainError.unavailable("The data store is closed") }
        let handle = self.handle
        return try await threadPool.runIfActive {
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
