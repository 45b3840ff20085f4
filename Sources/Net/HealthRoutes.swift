import Actors
import Hummingbird
import Integrations
import Logging
import Synchronization

/// `/health` (the store: reads and writes; behind Pomerium, its signing keys) and `/api/` (what
/// this is).
final class HealthRoutes: Sendable {
    let health: StoreHealth
    /// Set in `pomerium` mode: without its key set, no request behind Pomerium can be served.
    let pomerium: PomeriumGate?
    /// Whether the last answer found Pomerium's keys missing, so the change is logged once.
    private let keysWereMissing = Atomic(false)
    /// `GET /api/`'s body, the same for every request of the process: written once.
    private let aboutBody: ByteBuffer

    init(health: StoreHealth, version: String, pomerium: PomeriumGate?) {
        self.health = health
        self.pomerium = pomerium
        var body = ByteBuffer()
        AuditEventWriter.writeObject(["message": About.message, "version": version], into: &body)
        aboutBody = body
    }

    struct Health: Encodable, Sendable {
        var status: String
        var detail: String?
    }

    /// What `GET /api/` says (the OpenAPI document's `About`; keys sorted, as `PortalJSON` writes them).
    enum About {
        static let message = "NeoSC Zero Trust workspace access API"
    }

    func register(on router: Router<PortalRequestContext>) {
        router.get("health", use: health)
        router.get("api", use: about)
    }

    /// 200 `healthy`; 503 `degraded` when the store answers reads but refuses writes (requests
    /// that only read are still served) or, behind Pomerium, when its signing keys have never been
    /// fetched; 503 `unhealthy` when the store does not answer.
    @Sendable func health(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<Health> {
        // `/health` is open to anyone: a change is logged once, not once per poll.
        let (condition, isChange) = await health.checkNotingChange()
        switch condition {
        case .healthy:
            if isChange { context.logger.notice("health check: the store is healthy again") }
            if let pomerium {
                let missing = await !pomerium.hasKeySet()
                if keysWereMissing.exchange(missing, ordering: .relaxed) != missing {
                    if missing {
                        context.logger.warning(
                            "health check: Pomerium's signing keys cannot be fetched",
                            metadata: ["url": "\(pomerium.settings.jwksURL)"])
                    } else {
                        context.logger.notice("health check: Pomerium's signing keys fetched")
                    }
                }
                if missing {
                    return JSONBody(
                        Health(status: "degraded", detail: "Pomerium's signing keys have never been fetched (POMERIUM_JWKS_URL)"),
                        status: .serviceUnavailable)
                }
            }
            return JSONBody(Health(status: "healthy"))
        case .degraded(let reason):
            if isChange { context.logger.warning("health check: the store refuses writes", metadata: ["reason": "\(reason)"]) }
            return JSONBody(Health(status: "degraded", detail: reason), status: .serviceUnavailable)
        case .unhealthy(let reason):
            if isChange { context.logger.warning("health check: the store is not answering", metadata: ["reason": "\(reason)"]) }
            return JSONBody(Health(status: "unhealthy", detail: reason), status: .serviceUnavailable)
        }
    }

    @Sendable func about(_ request: Request, context: PortalRequestContext) async throws -> WrittenJSON {
        WrittenJSON(buffer: aboutBody)
    }
}
