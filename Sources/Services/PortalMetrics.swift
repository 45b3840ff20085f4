import Foundation
import Metrics
import Synchronization

/// The service's own metrics, through swift-metrics (Prometheus in `neosc serve`), on the factory
/// it is given: the process's in `neosc serve`, a registry of its own for each test's NeoSC, so
/// one test's assertions on metrics never see another's traffic. Labels are bounded: routes are
/// the registered path templates, never raw paths.
public struct PortalMetrics: Sendable {
    package let factory: any MetricsFactory
    private let requestHandles = RequestHandles()

    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// A request answered. Its handles are made once per method, route and status, not per
    /// request: making one goes through the factory's registry, under its lock, every time.
    /// Methods outside HTTP's usual ones count as `OTHER`, so a client cannot grow the labels.
    package func request(method: String, route: String, status: Int, duration: Duration) {
        let handles = requestHandles.handles(for: .init(method: Self.methodLabel(method), route: route, status: status)) { key in
            RequestHandles.Handles(
                count: Counter(
                    label: "http_requests_total", dimensions: [("method", key.method), ("route", key.route), ("status", String(key.status))],
                    factory: factory),
                duration: Timer(
                    label: "http_request_duration_seconds", dimensions: [("method", key.method), ("route", key.route)], factory: factory))
        }
        handles.count.increment()
        handles.duration.recordNanoseconds(duration.nanoseconds)
    }

    static func methodLabel(_ method: String) -> String {
        switch method {
        case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS": method
        default: "OTHER"
        }
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

/// The request metrics' handles, kept per label set (bounded: routes are templates, statuses and
/// methods few; past `limit` label sets, handles are made per call and not kept).
final class RequestHandles: Sendable {
    struct Key: Hashable, Sendable {
        var method: String
        var route: String
        var status: Int
    }

    struct Handles: Sendable {
        var count: Counter
        var duration: Timer
    }

    static let limit = 4_096
    private let kept = Mutex<[Key: Handles]>([:])

    func handles(for key: Key, making make: (Key) -> Handles) -> Handles {
        if let found = kept.withLock({ $0[key] }) { return found }
        let made = make(key)
        kept.withLock { kept in
            if kept.count < Self.limit { kept[key] = made }
        }
        return made
    }
}
