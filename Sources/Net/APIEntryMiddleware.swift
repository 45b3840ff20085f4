import Hummingbird

/// What every request under `/api` meets after `PortalEdgeMiddleware`, as one layer: who its
/// credential names (`IdentityMiddleware`), then the policies on calls (`CallPolicyCheck`).
/// One layer rather than two nested by Hummingbird's builder, for the reason
/// `PortalEdgeMiddleware` gives.
struct APIEntryMiddleware: RouterMiddleware {
    typealias Context = PortalRequestContext

    let identity: IdentityMiddleware
    let policy: CallPolicyCheck

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let context = try await identity.identified(request, in: context)
        try await policy.check(request, in: context)
        return try await next(request, context)
    }
}
