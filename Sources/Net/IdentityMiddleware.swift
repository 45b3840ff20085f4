import Actors
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Integrations
import Services

/// Works out who the caller of an API route is.
///
/// With local accounts, the identity comes from an `Authorization: Bearer` token (the scheme's
/// name in any case), and the middleware never refuses a request itself: routes that need a
/// caller are registered for a `SignedInContext`, which refuses a request without one.
/// Behind Pomerium (`NEOSC_AUTH_MODE=pomerium`) every request it sees must carry a verified
/// `X-Pomerium-Jwt-Assertion` (or, when allowed, identity headers from a trusted proxy); anything
/// else is refused here with a 401 and, when something was presented, an audit entry. It is
/// attached to the `/api` routes only, so health checks and metrics need no assertion. (As the
/// assertion comes with whatever a browser sends, a change a browser sends for another site's page
/// is refused before this, by `CrossSiteRequestGuard`.)
public struct IdentityMiddleware: RouterMiddleware {
    public typealias Context = PortalRequestContext

    /// What a caller presents with local accounts: an `Authorization: Bearer` token (the API), or
    /// the portal's session cookie (the pages; never the API, which would make it open to
    /// cross-site requests). Behind Pomerium both read the assertion.
    enum Credentials: Sendable {
        case bearer
        case browserSession(BrowserSession)
    }

    let credentials: Credentials
    let signIn: SignIn
    let accounts: ExternalAccounts
    let pomerium: PomeriumGate?
    let trustedProxies: TrustedProxies
    let audit: AuditTrail
    let metrics: PortalMetrics
    let clock: WallClock
    /// Refusals already audited this minute, per client address and reason.
    let audited: AttemptThrottle

    public init(portal: Portal) {
        self.init(portal: portal, credentials: .bearer)
    }

    init(portal: Portal, credentials: Credentials) {
        self.credentials = credentials
        signIn = portal.signIn
        accounts = portal.externalAccounts
        pomerium = portal.federation.pomerium
        trustedProxies = portal.settings.trustedProxies
        audit = portal.auditTrail
        metrics = portal.metrics
        clock = portal.clock
        audited = AttemptThrottle(limit: 1, window: 60, capacity: 10_000, clock: portal.clock)
    }

    /// Whether this refusal is the first of its reason from its client (an IPv4 address, an IPv6
    /// /64) this minute. Only those are audited (every one is counted in `auth_failures_total`), so
    /// an anonymous client cannot turn requests into audit rows, nor a host into a row per address.
    private func firstOfTheMinute(_ reason: String, in context: Context) async -> Bool {
        await audited.admit(AddressRange.clientKey(forAddress: context.clientAddress) + "\n" + reason) == nil
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        try await next(request, identified(request, in: context))
    }

    /// `context` with the caller the request's credential names, or with what was wrong with it.
    func identified(_ request: Request, in context: Context) async throws -> Context {
        var context = context
        if let gate = pomerium {
            context.identity = try await pomeriumIdentity(request, gate: gate, context: context)
        } else if case .browserSession(let browser) = credentials {
            if let token = browser.sessionToken(in: request) {
                switch try await signIn.identity(forToken: token) {
                case .success(let identity):
                    context.identity = identity
                case .failure(let problem):
                    metrics.authenticationFailed(reason: "invalid_session_cookie")
                    context.credentialProblem = problem.detail
                }
            }
        } else if let authorization = request.headers[.authorization] {
            if let token = BearerCredential.token(inAuthorization: authorization) {
                switch try await signIn.identity(forToken: String(token)) {
                case .success(let identity):
                    context.identity = identity
                case .failure(let problem):
                    metrics.authenticationFailed(reason: "invalid_token")
                    context.credentialProblem = problem.detail
                }
            } else {
                metrics.authenticationFailed(reason: "malformed_authorization")
                context.credentialProblem = "Authorization must be a Bearer token"
            }
        }
        return context
    }

    private func pomeriumIdentity(_ request: Request, gate: PomeriumGate, context: Context) async throws -> Identity {
        let email = request.headers[.xPomeriumEmail]
        let user = request.headers[.xPomeriumUser]
        let groups = request.headers[.xPomeriumGroups]
        let presentsHeaders = email != nil || user != nil || groups != nil
        let peerIsTrusted = context.peerAddress.map(trustedProxies.isTrusted) ?? false
        if presentsHeaders, gate.settings.trustIdentityHeaders, !peerIsTrusted {
            metrics.authenticationFailed(reason: "pomerium_header_spoof")
            if await firstOfTheMinute("pomerium_header_spoof", in: context) {
                try await audit.record(
                    .pomeriumHeaderSpoof, by: .anonymous(claimedEmail: email), in: context, success: false,
                    details: ["peer": context.peerAddress ?? "unknown", "path": request.uri.path])
            }
        }
        if let assertion = request.headers[.xPomeriumJwtAssertion] {
            do {
                return try await identity(forAssertion: assertion, gate: gate, in: context)
            } catch let rejection as TokenRejection {
                metrics.authenticationFailed(reason: rejection.rawValue)
                if await firstOfTheMinute(rejection.rawValue, in: context) {
                    try await audit.record(
                        .pomeriumAssertionRejected, by: .anonymous(claimedEmail: nil), in: context, success: false,
                        details: ["reason": rejection.rawValue, "path": request.uri.path])
                }
                throw rejection.domainError
            } catch let refusal as DomainError {
                if case .unavailable = refusal { throw refusal }
                metrics.authenticationFailed(reason: "not_allowed")
                if await firstOfTheMinute("not_allowed", in: context) {
                    try await audit.record(
                        .pomeriumAssertionRejected, by: .anonymous(claimedEmail: nil), in: context, success: false,
                        details: ["reason": "not_allowed", "detail": refusal.detail, "path": request.uri.path])
                }
                throw refusal
            }
        }
        if gate.settings.trustIdentityHeaders, peerIsTrusted, let email, !email.isEmpty {
            return try await identity(forHeaders: email, user: user, groups: groups, in: context)
        }
        metrics.authenticationFailed(reason: "missing_assertion")
        throw DomainError.unauthenticated("Missing X-Pomerium-Jwt-Assertion: reach NeoSC through Pomerium")
    }
}

extension IdentityMiddleware {
    /// The identity a Pomerium assertion vouches for. Verified once, then cached by digest until
    /// the cache lifetime or the assertion's own expiry, whichever is first.
    private func identity(
        forAssertion assertion: String, gate: PomeriumGate, in context: PortalRequestContext
    ) async throws
        -> Identity
    {
        try await accounts.identity(
            cachedAs: "pomerium:" + BearerCredential.digest(assertion), source: "pomerium_assertion", from: context.clientAddress
        ) {
            try await gate.identity(fromAssertion: assertion)
        }
    }

    /// The identity in Pomerium's plain headers, which a trusted proxy vouches for.
    private func identity(
        forHeaders email: String, user: String?, groups: String?, in context: PortalRequestContext
    ) async throws -> Identity {
        let digest = "pomerium-headers:" + BearerCredential.digest([email, user ?? "", groups ?? ""].joined(separator: "\n"))
        return try await accounts.identity(cachedAs: digest, source: "pomerium_headers", from: context.clientAddress) {
            // Headers carry no expiry of their own: what they say is believed for a minute at most.
            PomeriumGate.identity(email: email, user: user, groups: groups, validUntil: clock.now().addingTimeInterval(60))
        }
    }
}

extension HTTPField.Name {
    static let xPomeriumJwtAssertion = Self("X-Pomerium-Jwt-Assertion")!
    static let xPomeriumEmail = Self("X-Pomerium-Email")!
    static let xPomeriumUser = Self("X-Pomerium-User")!
    static let xPomeriumGroups = Self("X-Pomerium-Groups")!
}
