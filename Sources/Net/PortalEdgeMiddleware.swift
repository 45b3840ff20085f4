import Hummingbird
import Logging

/// The middleware every request meets first, as one layer: its request id (`RequestIDHeader`), the
/// browser policy (`BrowserPolicy`), telemetry (`RequestTelemetry`), errors turned into answers
/// (`ErrorResponseMiddleware`), the client's address (`ForwardedClientAddress`) and the cross-site
/// check (`CrossSiteRequestGuard`), in that order, each wrapping the next.
///
/// One layer, with one call of the rest, rather than six middlewares nested by Hummingbird's
/// builder: each nested layer cost an async frame and a closure call for the next, and the chain
/// ran behind the router's existential as unspecialised generic code (docs/benchmarks.md, the
/// thirtieth session: about 4 % less CPU a `GET /api/`, 10 % an authenticated read).
struct PortalEdgeMiddleware: RouterMiddleware {
    typealias Context = PortalRequestContext

    let browserPolicy: BrowserPolicy
    let telemetry: RequestTelemetry
    let errors: ErrorResponseMiddleware
    let clientAddress: ForwardedClientAddress
    let crossSite: CrossSiteRequestGuard

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let id = RequestIDHeader.id(for: request)
        context.logger[metadataKey: "request_id"] = .string(id)
        let origin = browserPolicy.allowedOrigin(of: request)
        var response: Response
        if let preflight = browserPolicy.preflight(request, from: origin) {
            response = preflight
        } else {
            let clock = ContinuousClock()
            let started = clock.now
            do {
                var inner = context
                clientAddress.apply(request, to: &inner)
                if let reason = crossSite.refusal(of: request) {
                    try await crossSite.refuse(request, in: inner, because: reason)
                }
                response = try await next(request, inner)
            } catch {
                response = try errors.answer(error, to: request, in: context)
            }
            telemetry.record(request, answered: response, in: context, after: clock.now - started)
        }
        browserPolicy.finish(&response, origin: origin)
        response.headers[.xRequestID] = id
        return response
    }
}
