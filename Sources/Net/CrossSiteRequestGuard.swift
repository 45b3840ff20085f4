import Actors
import Domain
import Hummingbird
import Services

/// Refuses an API request that may change something when the browser that sent it says it did so
/// for another site's page (`CrossSiteRequests`): a 403 before any other work, counted in
/// `auth_failures_total{reason="cross_site_request"}` and audited `access_denied` (the first from
/// a client address each minute); run on every request by `PortalEdgeMiddleware`.
///
/// Behind Pomerium the credential is ambient (Pomerium adds its assertion to whatever the browser
/// sends), so this is what keeps another site's page from launching, stopping or switching things
/// in its visitors' names. With local accounts the API takes bearer tokens only, but its open
/// routes (registration, login, starting a demo) would otherwise take a body another site's page
/// sends without a declared type (a `Blob`), from each of its visitors' addresses, past the
/// per-address limits. The portal's pages check their forms' CSRF tokens instead.
public struct CrossSiteRequestGuard: Sendable {
    public typealias Context = PortalRequestContext

    let rule: CrossSiteRequests
    let audit: AuditTrail
    let metrics: PortalMetrics
    /// Refusals already audited this minute, per client address.
    let audited: AttemptThrottle

    public init(portal: Portal) {
        rule = CrossSiteRequests(publicURL: portal.settings.publicURL, corsOrigins: portal.settings.corsOrigins)
        audit = portal.auditTrail
        metrics = portal.metrics
        audited = AttemptThrottle(limit: 1, window: 60, capacity: 10_000, clock: portal.clock)
    }

    /// Why the request is refused (`CrossSiteRequests.refusal`), or nil.
    func refusal(of request: Request) -> String? {
        guard let reason = rule.refusal(method: request.method, headers: request.headers, authority: request.head.authority),
            request.isForAPI
        else { return nil }
        return reason
    }

    /// Counts, audits (once a minute per address) and throws the refusal.
    func refuse(_ request: Request, in context: Context, because reason: String) async throws -> Never {
        metrics.authenticationFailed(reason: "cross_site_request")
        if await audited.admit(AddressRange.clientKey(forAddress: context.clientAddress)) == nil {
            try await audit.record(
                .accessDenied, by: .anonymous(claimedEmail: nil), in: context, success: false,
                details: [
                    "reason": reason, "path": request.uri.path,
                    "origin": request.headers[.origin].map { $0.bounded(toUTF8Bytes: 256) } ?? "",
                ])
        }
        throw DomainError.forbidden("A change sent from another site's page is refused: use NeoSC's own pages, or a client that is no browser")
    }
}
