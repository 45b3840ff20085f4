import Domain
import Foundation
import Hummingbird
import Services

/// Applies the policies that cover every API call (time windows and address allow-lists with
/// `applies_to: all`, `mfa_required` over all calls, rate limits) before the route runs
/// (`APIEntryMiddleware`); a
/// refusal is answered by `ErrorResponseMiddleware` (403, or 429 with the rate-limit fields).
struct CallPolicyCheck: Sendable {
    typealias Context = PortalRequestContext
    let policies: Policies
    let clock: WallClock

    /// Throws the refusal of the first policy that refuses the call.
    func check(_ request: Request, in context: Context) async throws {
        try await Self.checkCall(
            policies: policies, principal: context.identity?.principal, address: context.clientAddress, at: clock.now(),
            leadsToMFA: request.routedPath.hasPrefix("/api/auth/"))
    }

    /// The check every call passes, API or page: the request is built only when a policy is
    /// enabled; rate limits count it.
    static func checkCall(policies: Policies, principal: Principal?, address: String, at now: Date, leadsToMFA: Bool) async throws {
        try await policies.check(
            PolicyRequest(
                stage: .call, role: principal?.role, userID: principal?.userID, organizationID: principal?.organizationID,
                address: address, mfaVerified: principal?.mfaVerified ?? false, at: now, leadsToMFA: leadsToMFA),
            by: principal.map { .principal($0) } ?? .anonymous(claimedEmail: nil), countingLimits: true)
    }
}
