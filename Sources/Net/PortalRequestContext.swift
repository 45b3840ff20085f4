import Domain
import Foundation
import Hummingbird
import NIOCore

/// What every NeoSC request context knows: where the request came from.
public protocol PortalContext: RequestContext {
    /// The TCP peer, before any X-Forwarded-For is considered.
    var peerAddress: String? { get }
    /// The real client address: the peer, or what a trusted proxy says the client was.
    var clientAddress: String { get }
}

/// Per-request state: from where, and who is calling once the identity middleware has looked
/// (routes that need a caller take a `SignedInContext`, made from this one).
public struct PortalRequestContext: PortalContext {
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
    public var maxUploadSize: Int { Self.largestUpload }

    /// The largest body any route reads (the pages' are smaller): a request that declares a larger
    /// one is refused before it reaches a route (`UnparsableRequestAnswer`).
    static let largestUpload = 1 << 20

    public var responseEncoder: JSONEncoder { PortalJSON.encoder }
}
