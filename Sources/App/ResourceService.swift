import Logging
import ServiceLifecycle

/// A resource the server uses (the store, the outbound HTTP client, the bcrypt threads), held
/// for the service group's lifetime and closed when the group's graceful shutdown reaches it.
/// A service group starts its services in order and shuts them down in reverse, so a resource
/// listed before the server is closed only after the server has answered its last request.
struct ResourceService: Service {
    let name: String
    let logger: Logger
    let close: @Sendable () async throws -> Void

    init(_ name: String, logger: Logger, close: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.logger = logger
        self.close = close
    }

    func run() async throws {
        // Returns on graceful shutdown, or throws on cancellation: the resource is closed either way.
        try? await gracefulShutdown()
        do {
            try await close()
            logger.debug("closed \(name)")
        } catch {
            logger.warning("could not close \(name)", metadata: ["error": "\(error)"])
        }
    }
}
