import Actors
import Domain
import Foundation
import Hummingbird
import Services

/// `/api/demo/sessions`: just-in-time demos for visitors. Creating one needs no account; the
/// visitor gets a `demo-user` account, a bearer token valid until the demo's end and a
/// provisioned workspace, all taken back at expiry by the clean-up in `Services.Lifetimes`. The
/// use cases are `Services.DemoLifecycle`'s; this decodes, checks the caller, and encodes.
struct DemoRoutes {
    let demos: DemoLifecycle
    let audit: AuditTrail
    let store: any DemoStore

    struct Creation: Decodable {
        var workspaceType: String
        var email: String?
        enum CodingKeys: String, CodingKey {
            case email
            case workspaceType = "workspace_type"
        }
    }

    struct Extension: Decodable {
        var minutes: Int
    }

    struct Created: Encodable, Sendable {
        var demoSessionID: String
        var expiresAt: Date
        var accessToken: String
        var tokenType = "bearer"
        var workspace: Workspace
        var connectionURL: String?

        enum CodingKeys: String, CodingKey {
            case workspace
            case demoSessionID = "demo_session_id"
            case expiresAt = "expires_at"
            case accessToken = "access_token"
            case tokenType = "token_type"
            case connectionURL = "connection_url"
        }
    }

    /// A demo as the API shows it: no claim or clean-up bookkeeping beyond what operators need.
    struct View: Encodable, Sendable {
        var id: String
        var userID: String
        var workspaceID: String
        var workspaceType: String
        var contactEmail: String?
        var clientAddress: String
        var status: DemoSession.Status
        var createdAt: Date
        var expiresAt: Date
        var maxExpiresAt: Date
        var endedAt: Date?
        var connectionURL: String?
        var completedSteps: [DemoCleanupStep]

        init(_ demo: DemoSession) {
            id = demo.id
            userID = demo.userID
            workspaceID = demo.workspaceID
            workspaceType = demo.workspaceType
            contactEmail = demo.contactEmail
            clientAddress = demo.clientAddress
            status = demo.status
            createdAt = demo.createdAt
            expiresAt = demo.expiresAt
            maxExpiresAt = demo.maxExpiresAt
            endedAt = demo.endedAt
            connectionURL = demo.connectionURL
            completedSteps = demo.completedSteps
        }
    }

    func register(open: RouterGroup<PortalRequestContext>, signedIn: RouterGroup<SignedInContext>) {
        open.post(use: create)
        signedIn.get(use: list)
        signedIn.get(":id", use: show)
        signedIn.delete(":id", use: end)
        signedIn.post(":id/extend", use: extend)
    }

    @Sendable func create(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<Created> {
        // Off means absent, whatever the body: checked before it is read.
        guard demos.settings.enabled else { throw DomainError.notFound("Demo sessions are not enabled (NEOSC_DEMO_ENABLED)") }
        let body = try await request.decodeJSON(Creation.self, context: context)
        let started = try await demos.start(workspaceType: body.workspaceType, contactEmail: body.email, from: context.clientAddress)
        return JSONBody(
            Created(
                demoSessionID: started.demo.id, expiresAt: started.demo.expiresAt, accessToken: started.token,
                workspace: started.workspace, connectionURL: started.demo.connectionURL),
            status: .created)
    }

    /// Administrators see every demo; a demo user its own; anyone else is refused.
    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> JSONBody<[View]> {
        let principal = context.principal
        let limit = try request.queryLimit()
        if principal.role == .demoUser {
            return JSONBody(try await store.demos(userID: principal.userID, limit: limit).map(View.init))
        }
        try await audit.requireAdmin(principal, to: "list demo sessions", in: context)
        return JSONBody(try await store.demos(userID: nil, limit: limit).map(View.init))
    }

    @Sendable func show(_ request: Request, context: SignedInContext) async throws -> JSONBody<View> {
        JSONBody(View(try await demos.demo(id: try context.parameters.require("id"), visibleTo: context.principal)))
    }

    /// Ends a demo now (administrator or its visitor): the same clean-up as at expiry.
    @Sendable func end(_ request: Request, context: SignedInContext) async throws -> JSONBody<View> {
        JSONBody(View(try await demos.end(try context.parameters.require("id"), by: context.principal)))
    }

    /// Moves the expiry later (administrators only), never past the demo's maximum duration.
    @Sendable func extend(_ request: Request, context: SignedInContext) async throws -> JSONBody<View> {
        let principal = context.principal
        try await audit.requireAdmin(principal, to: "extend demo sessions", in: context)
        let body = try await request.decodeJSON(Extension.self, context: context)
        let extended = try await demos.extend(
            try context.parameters.require("id"), byMinutes: body.minutes, by: principal, from: context.clientAddress)
        return JSONBody(View(extended))
    }
}
