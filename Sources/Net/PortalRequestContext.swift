import Domain
import Foundation
import Hummingbird
import NIOCore

/// Per-request state: who is calling (once the identity middleware has looked), and from where.
public struct PortalRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The TCP peer, before any X-Forwarded-For is considered.
    public let peerAddress: String?
    /// The real client address: the peer, or what a trusted proxy says the client was.
    public var clientAddress: String
    /// Set by `IdentityMiddleware` when the request carried a valid credential.
    public var identity: Identity?
    public var principal: Principal? { identity?.principal }
    /// Why a credential that was presented was refused, for the 401 text.
    public var credentialProblem: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.peerAddress = source.channel.remoteAddress?.ipAddress
        self.clientAddress = peerAddress ?? "unknown"
    }

    /// Bodies above 1 MiB are refused with 413.
    public var maxUploadSize: Int { 1 << 20 }

    public var responseEncoder: JSONEncoder { PortalJSON.encoder }

    /// The authenticated identity, or a 401 saying what was wrong.
    public func requireIdentity() throws(DomainError) -> Identity {
        guard let identity else {
            throw .unauthenticated(credentialProblem ?? "Not authenticated")
        }
        return identity
    }

    /// The authenticated principal, or a 401 saying what was wrong.
    public func requirePrincipal() throws(DomainError) -> Principal {
        try requireIdentity().principal
    }
}
