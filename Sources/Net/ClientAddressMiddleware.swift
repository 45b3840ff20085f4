import HTTPTypes
import Hummingbird

/// Works out where a request really came from: its TCP peer, or the client a trusted proxy names
/// in X-Forwarded-For (never what an untrusted peer claims). Throttles and the audit trail use it.
public struct ClientAddressMiddleware: RouterMiddleware {
    public typealias Context = PortalRequestContext
    let trustedProxies: TrustedProxies

    public init(trustedProxies: TrustedProxies) {
        self.trustedProxies = trustedProxies
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let forwarded = request.headers[values: .xForwardedFor]
        if let client = trustedProxies.clientAddress(peer: context.peerAddress, forwardedFor: forwarded) {
            context.clientAddress = client
        }
        return try await next(request, context)
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
}
