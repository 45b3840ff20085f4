import HTTPTypes
import Hummingbird

/// Works out where a request really came from: its TCP peer, or the client a trusted proxy names
/// in X-Forwarded-For (never what an untrusted peer claims), for every request
/// (`PortalEdgeMiddleware`). Throttles and the audit trail use it.
public struct ForwardedClientAddress: Sendable {
    public typealias Context = PortalRequestContext
    let trustedProxies: TrustedProxies

    public init(trustedProxies: TrustedProxies) {
        self.trustedProxies = trustedProxies
    }

    /// Sets the context's client address from a trusted proxy's `X-Forwarded-For`.
    func apply(_ request: Request, to context: inout Context) {
        let forwarded = request.headers[values: .xForwardedFor]
        if let client = trustedProxies.clientAddress(peer: context.peerAddress, forwardedFor: forwarded) {
            context.clientAddress = client
        }
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
}
