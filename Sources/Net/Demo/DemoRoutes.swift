import Actors
import Domain
import Foundation
import Hummingbird
import Logging
import Services

/// `/api/demo/sessions`: just-in-time demos for visitors. Creating one needs no account; the
/// visitor gets a `demo-user` account, a bearer token valid until the demo's end and a
/// provisioned workspace, all taken back at expiry by the clean-up in `Services.Lifetimes`.
struct DemoRoutes {
    let portal: Portal

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
        let settings = portal.lifetimes.settings
        guard settings.enabled else { throw DomainError.notFound("Demo sessions are not enabled (NEOSC_DEMO_ENABLED)") }
        let body = try await request.decodeJSON(Creation.self, context: context)
        let type = try Validation.text(body.workspaceType, field: "workspace_type", length: 1...40)
        let contact = try body.email.map { try Validation.normalisedEmail($0) }
        guard
            let workspace = try await portal.catalogue.entries(from: portal.store).lazy.map(\.workspace)
                .first(where: { $0.type == type && $0.isOfferedForDemos })
        else {
            throw DomainError.invalid("No workspace of type '\(type)' is offered for demos")
        }

        let now = portal.clock.now()
        let demoID = Identifier.make("demo")
        let user = User(
            id: Identifier.make("usr"), email: "\(demoID)@demo.neosc.invalid", name: "Demo visitor",
            organizationID: nil, role: .demoUser, passwordHash: nil, createdAt: now, updatedAt: now)
        var demo = DemoSession(
            id: demoID, userID: user.id, workspaceID: workspace.id, workspaceType: type, contactEmail: contact,
            clientAddress: context.clientAddress, createdAt: now, expiresAt: now + settings.lifetime,
            maxExpiresAt: now + max(settings.maxDuration, settings.lifetime))
        // The demo first: its insert enforces the limits, so a refused request leaves nothing behind
        // but its audit entry (a burst of refusals is what an operator looks for).
        do {
            try await portal.store.insert(demo, limit: settings.maxActive, perAddressLimit: settings.maxActivePerAddress)
        } catch DomainError.rateLimited(let detail, let retryAfter) {
            try await portal.audit(
                .demoSessionCreated, by: .anonymous(claimedEmail: contact), in: context, success: false,
                details: ["workspace_type": type, "reason": "limit_reached", "error": detail])
            throw DomainError.rateLimited(detail, retryAfterSeconds: retryAfter)
        }
        await portal.lifetimes.scheduler.arm(.demoExpiry(demoID: demo.id), at: demo.expiresAt)
        do {
            try await portal.store.insert(user, creating: nil)
        } catch {
            _ = try? await portal.lifetimes.cleanUpDemo(demo.id, endingAs: .ended, by: nil)
            throw error
        }
        do {
            let provisioned = try await portal.lifetimes.drivers.provisioner.provision(demo, workspace: workspace)
            demo.connectionURL = provisioned.connectionURL
            demo.networkPeerID = provisioned.networkPeerID
            try await portal.store.recordProvisioning(of: demo)
        } catch {
            // Nothing half-granted stays behind: the demo is ended and cleaned up at once.
            portal.logger.warning("demo provisioning failed", metadata: ["demo": "\(demo.id)", "error": "\(error)"])
            _ = try? await portal.lifetimes.cleanUpDemo(demo.id, endingAs: .ended, by: nil)
            // The answer is the 503 whatever happens to this entry (a store too ill to write it
            // has failed the clean-up's entries too, and the clean-up resumes at the next rescan).
            try? await portal.audit(
                .demoSessionCreated, by: .account(user), in: context, success: false, resource: ("demo_session", demo.id),
                details: [
                    "workspace_id": workspace.id, "workspace_type": type, "reason": "provisioning_failed", "error": "\(error)",
                ])
            throw DomainError.unavailable("The demo workspace could not be provisioned; try again later")
        }
        let (token, expiresAt) = try await portal.issueToken(for: user, mfaVerified: false, notAfter: demo.expiresAt)
        try await portal.audit(
            .demoSessionCreated, by: .account(user), in: context,
            resource: ("demo_session", demo.id),
            details: [
                "workspace_id": workspace.id, "workspace_type": type, "expires_at": demo.expiresAt.formatted(.iso8601),
            ])
        portal.metrics.activeDemos(try await portal.store.activeDemoCount())
        return JSONBody(
            Created(
                demoSessionID: demo.id, expiresAt: demo.expiresAt, accessToken: token, workspace: workspace,
                connectionURL: demo.connectionURL),
            status: .created)
    }

    /// Administrators see every demo; a demo user its own; anyone else is refused.
    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> JSONBody<[View]> {
        let principal = context.principal
        let limit = try request.queryLimit()
        if principal.role == .demoUser {
            return JSONBody(try await portal.store.demos(userID: principal.userID, limit: limit).map(View.init))
        }
        try await portal.requireAdmin(principal, to: "list demo sessions", in: context)
        return JSONBody(try await portal.store.demos(userID: nil, limit: limit).map(View.init))
    }

    @Sendable func show(_ request: Request, context: SignedInContext) async throws -> JSONBody<View> {
        let principal = context.principal
        return JSONBody(View(try await existing(context, ownedBy: principal)))
    }

    /// Ends a demo now (administrator or its visitor): the same clean-up as at expiry.
    @Sendable func end(_ request: Request, context: SignedInContext) async throws -> JSONBody<View> {
        let principal = context.principal
        let demo = try await existing(context, ownedBy: principal)
        guard demo.status == .active else {
            throw DomainError.conflict("Demo session is not active (it is \(demo.status.rawValue))")
        }
        guard let finished = try await portal.lifetimes.cleanUpDemo(demo.id, endingAs: .ended, by: principal) else {
            throw DomainError.unavailable("The demo is being cleaned up; its clean-up will be resumed")
        }
        return JSONBody(View(finished))
    }

    /// Moves the expiry later (administrators only), never past the demo's maximum duration.
    @Sendable func extend(_ request: Request, context: SignedInContext) async throws -> JSONBody<View> {
        let principal = context.principal
        try await portal.requireAdmin(principal, to: "extend demo sessions", in: context)
        let body = try await request.decodeJSON(Extension.self, context: context)
        guard (1...1_440).contains(body.minutes) else { throw DomainError.invalid("minutes must be from 1 to 1440") }
        let demo = try await existing(context, ownedBy: principal)
        let now = portal.clock.now()
        guard let newExpiry = demo.extended(byMinutes: body.minutes, at: now) else {
            throw DomainError.conflict(
                demo.grantsAccess(at: now)
                    ? "Demo session is already at its maximum duration (\(demo.maxExpiresAt.formatted(.iso8601)))"
                    : "Demo session is not active")
        }
        guard let extended = try await portal.store.extend(id: demo.id, to: newExpiry) else {
            throw DomainError.conflict("Demo session is not active")
        }
        try await portal.store.setExpiry(userID: demo.userID, to: newExpiry)
        await portal.tokenCache.evict(userID: demo.userID)
        await portal.lifetimes.scheduler.arm(.demoExpiry(demoID: demo.id), at: newExpiry)
        try await portal.audit(
            .demoSessionExtended, by: .principal(principal), in: context, resource: ("demo_session", demo.id),
            details: [
                "previous_expires_at": demo.expiresAt.formatted(.iso8601), "expires_at": newExpiry.formatted(.iso8601),
                "capped": String(newExpiry == demo.maxExpiresAt),
            ])
        return JSONBody(View(extended))
    }

    private func existing(_ context: SignedInContext, ownedBy principal: Principal) async throws -> DemoSession {
        let id = try context.parameters.require("id")
        guard let demo = try await portal.store.demo(id: id), principal.isAdmin || demo.userID == principal.userID else {
            throw DomainError.notFound("Demo session not found")
        }
        return demo
    }
}
