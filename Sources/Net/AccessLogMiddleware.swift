import Hummingbird
import Foundation
import Logging

/// One log line per request once it is answered: method, path, route, status and duration.
/// The path is logged without its query string, so a credential a client wrongly put in a URL
/// never reaches the log; headers and bodies are never logged.
public struct AccessLogMiddleware: RouterMiddleware {
    public typealias Context = PortalRequestContext

    public init() {}

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let clock = ContinuousClock()
        let started = clock.now
        let response = try await next(request, context)
        let elapsed = clock.now - started
        context.logger.info(
            "request",
            metadata: [
                "method": .string(request.method.rawValue),
                "path": .string(request.uri.path),
                "route": .string(context.endpointPath ?? "unmatched"),
                "status": .stringConvertible(response.status.code),
                "duration_ms": .string(String(format: "%.3f", Double(elapsed.nanoseconds) / 1_000_000)),
                "peer": .string(context.peerAddress ?? "unknown"),
            ])
        return response
    }
}
