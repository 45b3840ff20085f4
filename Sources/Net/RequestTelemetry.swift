import Foundation
import Hummingbird
import Logging
import Services

/// Measures each request once it is answered, and reports it twice: as metrics
/// (`http_requests_total`, `http_request_duration_seconds`, by method, route template and status)
/// and as one access-log line (`AccessLog`: method, path, route, status, duration, peer). The
/// path is logged without its query string, so a credential a client wrongly put in a URL never
/// reaches the log; headers and bodies are never logged. Called by `PortalEdgeMiddleware`.
public struct RequestTelemetry: Sendable {
    public typealias Context = PortalRequestContext

    let metrics: PortalMetrics
    let accessLog: any AccessLog

    public init(metrics: PortalMetrics, accessLog: any AccessLog = LoggerAccessLog()) {
        self.metrics = metrics
        self.accessLog = accessLog
    }

    /// Counts and logs one answered request.
    func record(_ request: Request, answered response: Response, in context: Context, after elapsed: Duration) {
        let route = context.endpointPath ?? "unmatched"
        metrics.request(method: request.method.rawValue, route: route, status: response.status.code, duration: elapsed)
        accessLog.record(
            AccessLogEntry(
                method: request.method.rawValue, path: request.uri.path, route: route, status: response.status.code,
                duration: elapsed, peer: context.peerAddress ?? "unknown"),
            logger: context.logger)
    }
}
