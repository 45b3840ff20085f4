import Domain
import Foundation
import Hummingbird
import Services

/// Applies the policies that cover every API call (time windows and address allow-lists with
/// `applies_to: all`, `mfa_required` over all calls, rate limits) before the route runs; a
/// refusal is answered by `ErrorResponseMiddleware` (403, or 429 with the rate-limit fields).
struct PolicyMiddleware: RouterMiddleware {
    typealias Context = PortalRequestContext
    let policies: Policies
    let clock: WallClock

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let principal = context.identity?.principal
        try await policies.check(
            PolicyRequest(
                stage: .call, role: principal?.role, userID: principal?.userID, organizationID: principal?.organizationID,
                address: context.clientAddress, mfaVerified: principal?.mfaVerified ?? false, at: clock.now(),
                leadsToMFA: request.uri.path.hasPrefix("/api/auth/")),
            by: principal.map { .principal($0) } ?? .anonymous(claimedEmail: nil), countingLimits: true)
        return try await next(request, context)
    }
}
