import Domain
import Foundation
import Hummingbird

/// A request whose caller has proved who they are. Routes that need a caller are registered on
/// groups of this context, so "signed in" is a type rather than a check at the top of each
/// handler: making one from a request without a valid credential throws the 401, naming what was
/// wrong with the credential that was presented.
public struct SignedInContext: ChildRequestContext, PortalContext {
    public typealias ParentContext = PortalRequestContext

    public var coreContext: CoreRequestContextStorage
    public let peerAddress: String?
    public let clientAddress: String
    public let identity: Identity
    public var principal: Principal { identity.principal }

    public init(context: PortalRequestContext) throws {
        guard let identity = context.identity else {
            throw DomainError.unauthenticated(context.credentialProblem ?? "Not authenticated")
        }
        self.coreContext = context.coreContext
        self.peerAddress = context.peerAddress
        self.clientAddress = context.clientAddress
        self.identity = identity
    }

    /// Bodies above 1 MiB are refused with 413.
    public var maxUploadSize: Int { PortalRequestContext.largestUpload }

    public var responseEncoder: JSONEncoder { PortalJSON.encoder }
}
