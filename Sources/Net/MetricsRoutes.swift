import Domain
import Hummingbird
import Services

/// `GET /metrics`: the Prometheus exposition, only for peers in `NEOSC_METRICS_ALLOW` (judged by
/// the TCP peer, never by X-Forwarded-For). Anyone else gets the same 404 as an unknown path.
struct MetricsRoutes {
    let settings: PortalSettings
    let sessions: WorkspaceSessions
    let recorder: PortalMetrics

    func register(on router: Router<PortalRequestContext>) {
        router.get("metrics", use: metrics)
    }

    @Sendable func metrics(_ request: Request, context: PortalRequestContext) async throws -> Response {
        guard let exposition = settings.metricsExposition, let peer = context.peerAddress,
            settings.metricsAllowed.isTrusted(peer)
        else {
            throw DomainError.notFound("Not found")
        }
        if let active = try? await sessions.activeCountsByWorkspace() {
            recorder.activeSessions(active.values.reduce(0, +))
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: exposition())))
    }
}
