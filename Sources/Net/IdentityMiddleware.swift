import Domain
import Foundation
import HTTPTypes
import Hummingbird

/// Works out who and where the caller is: the real client address (believing X-Forwarded-For only
/// from trusted proxies) and, when an `Authorization: Bearer` header is present, the principal.
/// It never refuses a request itself; routes that need a principal ask for one.
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
        let forwarded = request.headers[values: .xForwardedFor]
        if let client = portal.settings.trustedProxies.clientAddress(peer: context.peerAddress, forwardedFor: forwarded) {
            context.clientAddress = client
        }
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                switch try await portal.identity(forToken: String(parts[1]).trimmingCharacters(in: .whitespaces)) {
                case .success(let identity):
                    context.identity = identity
                case .failure(let problem):
                    PortalMetrics.authenticationFailed(reason: "invalid_token")
                    context.credentialProblem = problem.detail
                }
            } else {
                PortalMetrics.authenticationFailed(reason: "malformed_authorization")
                context.credentialProblem = "Authorization must be a Bearer token"
            }
        }
        return try await next(request, context)
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
}
