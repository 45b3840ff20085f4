import Hummingbird

/// Counts and times every request by method, route template and status.
public struct RequestMetricsMiddleware: RouterMiddleware {
    public typealias Context = PortalRequestContext

    public init() {}

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let clock = ContinuousClock()
        let started = clock.now
        let response = try await next(request, context)
        PortalMetrics.request(
            method: request.method.rawValue, route: context.endpointPath ?? "unmatched", status: response.status.code,
            duration: clock.now - started)
        return response
    }
}
