import Actors
import Hummingbird
import Logging

/// `/health` (the store: reads and writes) and `/api/` (what this is).
struct HealthRoutes {
    let health: StoreHealth
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

    /// 200 `healthy`; 503 `degraded` when the store answers reads but refuses writes (requests
    /// that only read are still served), 503 `unhealthy` when it does not answer.
    @Sendable func health(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<Health> {
        // `/health` is open to anyone: a change is logged once, not once per poll.
        let (condition, isChange) = await health.checkNotingChange()
        switch condition {
        case .healthy:
            if isChange { context.logger.notice("health check: the store is healthy again") }
            return JSONBody(Health(status: "healthy"))
        case .degraded(let reason):
            if isChange { context.logger.warning("health check: the store refuses writes", metadata: ["reason": "\(reason)"]) }
            return JSONBody(Health(status: "degraded", detail: reason), status: .serviceUnavailable)
        case .unhealthy(let reason):
            if isChange { context.logger.warning("health check: the store is not answering", metadata: ["reason": "\(reason)"]) }
            return JSONBody(Health(status: "unhealthy", detail: reason), status: .serviceUnavailable)
        }
    }

    @Sendable func about(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<About> {
        JSONBody(About(message: "NeoSC Zero Trust workspace access API", version: version))
    }
}
