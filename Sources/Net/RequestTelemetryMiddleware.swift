import Foundation
import Hummingbird
import Logging
import Services

/// Measures each request once it is answered, and reports it twice: as metrics
/// (`http_requests_total`, `http_request_duration_seconds`, by method, route template and status)
/// and as one access-log line (method, path, route, status, duration, peer). The path is logged
/// without its query string, so a credential a client wrongly put in a URL never reaches the
/// log; headers and bodies are never logged.
public struct RequestTelemetryMiddleware: RouterMiddleware {
    public typealias Context = PortalRequestContext

    let metrics: PortalMetrics

    public init(metrics: PortalMetrics) {
        self.metrics = metrics
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let clock = ContinuousClock()
        let started = clock.now
        let response = try await next(request, context)
        let elapsed = clock.now - started
        let route = context.endpointPath ?? "unmatched"
        metrics.request(method: request.method.rawValue, route: route, status: response.status.code, duration: elapsed)
        context.logger.info(
            "request",
            metadata: [
                "method": .string(request.method.rawValue),
                "path": .string(request.uri.path),
                "route": .string(route),
                "status": .stringConvertible(response.status.code),
                "duration_ms": .string(Self.milliseconds(elapsed)),
                "peer": .string(context.peerAddress ?? "unknown"),
            ])
        return response
    }

    /// `elapsed` in milliseconds with three decimals ("12.345"), without `String(format:)`
    /// (which goes through Foundation's formatter for every request).
    package static func milliseconds(_ elapsed: Duration) -> String {
        let microseconds = max(0, elapsed.nanoseconds / 1_000)
        let fraction = microseconds % 1_000
        let padding = fraction < 10 ? "00" : fraction < 100 ? "0" : ""
        return "\(microseconds / 1_000).\(padding)\(fraction)"
    }
}
