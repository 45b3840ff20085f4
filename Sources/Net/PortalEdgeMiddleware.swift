import Hummingbird
import Logging

/// The middleware every request meets first, as one layer: its request id, the browser policy,
/// telemetry, errors turned into answers, the client's address and the cross-site check, each as
/// its own middleware type describes it, in that order (the first the outermost).
///
/// One layer, with one call of the rest, rather than six nested by Hummingbird's middleware
/// builder: each nested layer cost an async frame and a closure call for the next, and the chain
/// ran behind the router's existential as unspecialised generic code. Six layers that passed the
/// request on and did nothing else cost about 8 µs of the 66 of a `GET /api/` on this machine
/// (docs/benchmarks.md, the thirtieth session).
struct PortalEdgeMiddleware: RouterMiddleware {
    typealias Context = PortalRequestContext

    let requestID: RequestIDMiddleware
    let browserPolicy: BrowserPolicyMiddleware
    let telemetry: RequestTelemetryMiddleware
    let errors: ErrorResponseMiddleware
    let clientAddress: ClientAddressMiddleware
    let crossSite: CrossSiteRequestMiddleware

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let id = RequestIDMiddleware.id(for: request)
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
