import Domain
import Hummingbird
import Logging

/// `/health` (checks the store) and `/api/` (what this is).
struct HealthRoutes {
    let store: any Store
    let version: String

    struct Health: Encodable, Sendable {
        var status: String
        var detail: String?
    }

    struct About: Encodable, Sendable {
        var message: String
        var version: String
    }

    func register(on router: Router<PortalRequestContext>) {
        router.get("health", use: health)
        router.get("api", use: about)
    }

    @Sendable func health(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<Health> {
        do {
            try await store.ping()
            return JSONBody(Health(status: "healthy"))
        } catch {
            context.logger.warning("health check failed", metadata: ["error": "\(error)"])
            return JSONBody(Health(status: "unhealthy", detail: "The data store is not answering"), status: .serviceUnavailable)
        }
    }

    @Sendable func about(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<About> {
        JSONBody(About(message: "NeoSC Zero Trust workspace access API", version: version))
    }
}
