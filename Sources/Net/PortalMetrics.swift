import Foundation
import Metrics

/// The service's own metrics, through swift-metrics (Prometheus in `neosc serve`). Labels are
/// bounded: routes are the registered path templates, never raw paths.
public enum PortalMetrics {
    static func request(method: String, route: String, status: Int, duration: Duration) {
        Counter(label: "http_requests_total", dimensions: [("method", method), ("route", route), ("status", String(status))])
            .increment()
        Timer(label: "http_request_duration_seconds", dimensions: [("method", method), ("route", route)])
            .recordNanoseconds(duration.nanoseconds)
    }

    static func launch(succeeded: Bool, duration: Duration) {
        Counter(label: "workspace_launches_total", dimensions: [("result", succeeded ? "success" : "refused")]).increment()
        if succeeded {
            Timer(label: "workspace_launch_duration_seconds").recordNanoseconds(duration.nanoseconds)
        }
    }

    static func authenticationFailed(reason: String) {
        Counter(label: "auth_failures_total", dimensions: [("reason", reason)]).increment()
    }

    static func signedIn(method: String) {
        Counter(label: "auth_sign_ins_total", dimensions: [("method", method)]).increment()
    }

    static func activeDemos(_ count: Int) {
        Gauge(label: "demo_sessions_active").record(count)
    }

    static func activeSessions(_ count: Int) {
        Gauge(label: "active_sessions").record(count)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds &* 1_000_000_000 &+ components.attoseconds / 1_000_000_000
    }
}
