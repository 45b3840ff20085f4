import Foundation
import Metrics

/// The service's own metrics, through swift-metrics (Prometheus in `neosc serve`), on the factory
/// it is given: the process's in `neosc serve`, a registry of its own for each test's NeoSC, so
/// one test's assertions on metrics never see another's traffic. Labels are bounded: routes are
/// the registered path templates, never raw paths.
public struct PortalMetrics: Sendable {
    package let factory: any MetricsFactory

    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    package func request(method: String, route: String, status: Int, duration: Duration) {
        Counter(label: "http_requests_total", dimensions: [("method", method), ("route", route), ("status", String(status))], factory: factory)
            .increment()
        Timer(label: "http_request_duration_seconds", dimensions: [("method", method), ("route", route)], factory: factory)
            .recordNanoseconds(duration.nanoseconds)
    }

    package func launch(succeeded: Bool, duration: Duration) {
        Counter(label: "workspace_launches_total", dimensions: [("result", succeeded ? "success" : "refused")], factory: factory).increment()
        if succeeded {
            Timer(label: "workspace_launch_duration_seconds", factory: factory).recordNanoseconds(duration.nanoseconds)
        }
    }

    package func authenticationFailed(reason: String) {
        Counter(label: "auth_failures_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    /// A credential verified in full (signature and claims) rather than found in the identity
    /// cache: with the request count, how well the cache spares the verifier.
    package func identityVerified(source: String) {
        Counter(label: "identity_verifications_total", dimensions: [("source", source)], factory: factory).increment()
    }

    package func signedIn(method: String) {
        Counter(label: "auth_sign_ins_total", dimensions: [("method", method)], factory: factory).increment()
    }

    package func activeDemos(_ count: Int) {
        Gauge(label: "demo_sessions_active", factory: factory).record(count)
    }

    package func activeSessions(_ count: Int) {
        Gauge(label: "active_sessions", factory: factory).record(count)
    }
}

extension Duration {
    package var nanoseconds: Int64 {
        components.seconds &* 1_000_000_000 &+ components.attoseconds / 1_000_000_000
    }
}
