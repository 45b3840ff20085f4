import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Services

/// Works out who the caller of an API route is.
///
/// With local accounts, the identity comes from an `Authorization: Bearer` token (the scheme's
/// name in any case), and the middleware never refuses a request itself: routes that need a
/// caller are registered for a `SignedInContext`, which refuses a request without one.
/// Behind Pomerium (`NEOSC_AUTH_MODE=pomerium`) every request it sees must carry a verified
/// `X-Pomerium-Jwt-Assertion` (or, when allowed, identity headers from a trusted proxy); anything
/// else is refused here with a 401 and, when something was presented, an audit entry. It is
/// attached to the `/api` routes only, so health checks and metrics need no assertion.
public struct IdentityMiddleware: RouterMiddleware {
    public typealias Context = PortalRequestContext
    let portal: Portal

    public init(portal: Portal) {
        self.portal = portal
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        if let gate = portal.federation.pomerium {
            context.identity = try await pomeriumIdentity(request, gate: gate, context: context)
        } else if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                switch try await portal.signIn.identity(forToken: String(parts[1]).trimmingCharacters(in: .whitespaces)) {
                case .success(let identity):
                    context.identity = identity
                case .failure(let problem):
                    portal.metrics.authenticationFailed(reason: "invalid_token")
                    context.credentialProblem = problem.detail
                }
            } else {
                portal.metrics.authenticationFailed(reason: "malformed_authorization")
                context.credentialProblem = "Authorization must be a Bearer token"
            }
        }
        return try await next(request, context)
    }

    private func pomeriumIdentity(_ request: Request, gate: PomeriumGate, context: Context) async throws -> Identity {
        let email = request.headers[.xPomeriumEmail]
        let user = request.headers[.xPomeriumUser]
        let groups = request.headers[.xPomeriumGroups]
        let presentsHeaders = email != nil || user != nil || groups != nil
        let peerIsTrusted = context.peerAddress.map(portal.settings.trustedProxies.isTrusted) ?? false
        if presentsHeaders, gate.settings.trustIdentityHeaders, !peerIsTrusted {
            portal.metrics.authenticationFailed(reason: "pomerium_header_spoof")
            try await portal.audit(
                .pomeriumHeaderSpoof, by: .anonymous(claimedEmail: email), in: context, success: false,
                details: ["peer": context.peerAddress ?? "unknown", "path": request.uri.path])
        }
        if let assertion = request.headers[.xPomeriumJwtAssertion] {
            do {
                return try await portal.identity(forAssertion: assertion, gate: gate, in: context)
            } catch let rejection as TokenRejection {
                portal.metrics.authenticationFailed(reason: rejection.rawValue)
                try await portal.audit(
                    .pomeriumAssertionRejected, by: .anonymous(claimedEmail: nil), in: context, success: false,
                    details: ["reason": rejection.rawValue, "path": request.uri.path])
                throw rejection.domainError
            } catch let refusal as DomainError {
                if case .unavailable = refusal { throw refusal }
                try await portal.audit(
                    .pomeriumAssertionRejected, by: .anonymous(claimedEmail: nil), in: context, success: false,
                    details: ["reason": "not_allowed", "detail": refusal.detail, "path": request.uri.path])
                throw refusal
            }
        }
        if gate.settings.trustIdentityHeaders, peerIsTrusted, let email, !email.isEmpty {
            return try await portal.identity(forHeaders: email, user: user, groups: groups, in: context)
        }
        portal.metrics.authenticationFailed(reason: "missing_assertion")
        throw DomainError.unauthenticated("Missing X-Pomerium-Jwt-Assertion: reach NeoSC through Pomerium")
    }
}

extension HTTPField.Name {
    static let xPomeriumJwtAssertion = Self("X-Pomerium-Jwt-Assertion")!
    static let xPomeriumEmail = Self("X-Pomerium-Email")!
    static let xPomeriumUser = Self("X-Pomerium-User")!
    static let xPomeriumGroups = Self("X-Pomerium-Groups")!
}
