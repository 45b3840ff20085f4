import Actors
import Domain
import Foundation
import Logging

/// Just-in-time demos from start to end: a visitor's demo is created with its own `demo-user`
/// account, a provisioned workspace and a token that dies with it; it can be extended (never
/// past its maximum) or ended early; and a demo user reaches only its demo's workspace while the
/// demo lasts. The clean-up at the end is `Lifetimes`'.
public struct DemoLifecycle: Sendable {
    /// A demo just created: the visitor's token and the workspace it was given.
    public struct Started: Sendable {
        public let demo: DemoSession
        public let token: String
        public let workspace: Workspace
    }

    public var settings: DemoSettings { lifetimes.settings }
    private let lifetimes: Lifetimes
    private let store: any Store
    private let signIn: SignIn
    private let tokenCache: TokenCache
    private let audit: AuditTrail
    private let clock: WallClock
    private let metrics: PortalMetrics
    private let logger: Logger
    /// The workspace catalogue, as cheaply as the caller can give it (demo creation is open to
    /// anyone: the API hands its cached catalogue).
    private let catalogue: @Sendable () async throws -> [Workspace]
    /// Demos started this hour, per client address and overall (key `*`).
    private let creationsPerAddress: AttemptThrottle
    private let creations: AttemptThrottle

    /// Whether a demo's sessions are recorded, for the provisioner.
    private let policies: Policies

    public init(
        store: any Store, lifetimes: Lifetimes, signIn: SignIn, tokenCache: TokenCache, audit: AuditTrail, clock: WallClock,
        metrics: PortalMetrics, logger: Logger, policies: Policies, catalogue: (@Sendable () async throws -> [Workspace])? = nil
    ) {
        self.policies = policies
        self.catalogue = catalogue ?? { try await store.workspaces() }
        self.creationsPerAddress = AttemptThrottle(limit: lifetimes.settings.creationsPerAddressPerHour, window: 3_600, clock: clock)
        self.creations = AttemptThrottle(limit: lifetimes.settings.creationsPerHour, window: 3_600, clock: clock)
        self.store = store
        self.lifetimes = lifetimes
        self.signIn = signIn
        self.tokenCache = tokenCache
        self.audit = audit
        self.clock = clock
        self.metrics = metrics
        self.logger = logger
    }

    /// Starts a demo of the first workspace of `workspaceType` offered for demos, for a visitor
    /// at `address`. Refused (429) past `maxActive` overall or `maxActivePerAddress` from the
    /// address; a failed provisioning leaves nothing half-granted (503, cleaned up at once).
    /// Refusals and the start are audited.
    public func start(workspaceType: String, contactEmail: String?, from address: String) async throws -> Started {
        guard settings.enabled else { throw DomainError.notFound("Demo sessions are not enabled (NEOSC_DEMO_ENABLED)") }
        let type = try Validation.line(workspaceType, field: "workspace_type", length: 1...40)
        let contact = try contactEmail.map { try Validation.newEmail($0) }
        guard let workspace = try await catalogue().first(where: { $0.type == type && $0.isOfferedForDemos }) else {
            throw DomainError.invalid("No workspace of type '\(type)' is offered for demos")
        }
        // Starting a demo signs a `demo-user` in: the sign-in policies (a time window, an
        // allow-list) apply before anything is created.
        try await policies.check(
            PolicyRequest(stage: .signIn, role: .demoUser, address: address, mfaVerified: false, at: clock.now()),
            by: .anonymous(claimedEmail: contact))

        let now = clock.now()
        let demoID = Identifier.make("demo")
        let user = User(
            id: Identifier.make("usr"), email: "\(demoID)@\(Validation.demoAccountDomain)", name: "Demo visitor",
            organizationID: nil, role: .demoUser, passwordHash: nil, createdAt: now, updatedAt: now)
        var demo = DemoSession(
            id: demoID, userID: user.id, workspaceID: workspace.id, workspaceType: type, contactEmail: contact,
            clientAddress: address, createdAt: now, expiresAt: now + settings.lifetime,
            maxExpiresAt: now + max(settings.maxDuration, settings.lifetime))
        // The hourly rates next (a loop of creating and ending demos never meets the active
        // limits): every attempt that gets this far counts, checked and counted in one step; each
        // refusal costs a counter, the first of a window is audited.
        let client = AddressRange.clientKey(forAddress: address)
        for (throttle, key, what) in [(creationsPerAddress, client, "from this address"), (creations, "*", "overall")] {
            if let refusal = await throttle.admit(key) {
                if refusal.count == 1 {
                    try await audit.record(
                        .demoSessionCreated, by: .anonymous(claimedEmail: contact), from: address, success: false,
                        details: ["workspace_type": type, "reason": "rate_limited", "scope": key == "*" ? "overall" : "address"])
                }
                throw DomainError.rateLimited(
                    "Too many demo sessions started \(what) this hour; try again later", retryAfterSeconds: refusal.retryAfter)
            }
        }
        // Then the demo: its insert enforces the active limits, so a refused request leaves nothing
        // behind but its audit entry (a burst of refusals is what an operator looks for).
        do {
            try await store.insert(demo, limit: settings.maxActive, perAddressLimit: settings.maxActivePerAddress)
        } catch DomainError.rateLimited(let detail, let retryAfter) {
            try await audit.record(
                .demoSessionCreated, by: .anonymous(claimedEmail: contact), from: address, success: false,
                details: ["workspace_type": type, "reason": "limit_reached", "error": detail])
            throw DomainError.rateLimited(detail, retryAfterSeconds: retryAfter)
        }
        await lifetimes.scheduler.arm(.demoExpiry(demoID: demo.id), at: demo.expiresAt)
        do {
            try await store.insert(user, creating: nil)
        } catch {
            await cleanUpAtOnce(demo.id)
            throw error
        }
        // What provisioning made is recorded, and the token issued, in one change, and only while
        // the demo is still active (an end or an extension may come while it is provisioned).
        let granted: (demo: DemoSession, token: String)?
        do {
            let recording = try await policies.recording(
                PolicyRequest(
                    stage: .launch, role: .demoUser, userID: user.id, workspaceID: workspace.id,
                    workspaceRequiresNetbird: workspace.requiresNetbird, address: address, mfaVerified: false, at: clock.now()))
            let provisioned = try await lifetimes.drivers.provisioner.provision(demo, workspace: workspace, recording: recording)
            demo.connectionURL = provisioned.connectionURL
            demo.networkPeerID = provisioned.networkPeerID
            // The visitor's page links to it: held to a workspace's own rules for its `url` (an
            // http(s) URL or a path; not `javascript:`), since the provisioner's reply is unsigned.
            if let connectionURL = provisioned.connectionURL {
                _ = try Validation.url(connectionURL, field: "The provisioner's connection_url")
            }
            granted = try await audit.change { [demo] in
                // As stored: an extension while it was provisioned moved its expiry, which the token follows.
                guard let recorded = try await store.recordProvisioning(of: demo) else { return nil }
                let (token, _) = try await signIn.issueToken(for: user, mfaVerified: false, notAfter: recorded.expiresAt)
                try await audit.record(
                    .demoSessionCreated, by: .account(user), from: address, resource: ("demo_session", recorded.id),
                    details: [
                        "workspace_id": workspace.id, "workspace_type": type, "expires_at": recorded.expiresAt.formatted(.iso8601),
                    ])
                return (recorded, token)
            }
        } catch {
            // Nothing half-granted stays behind: the demo is ended and cleaned up at once.
            logger.warning("demo provisioning failed", metadata: ["demo": "\(demo.id)", "error": "\(error)"])
            let (demoID, workspaceID, failure) = (demo.id, workspace.id, "\(error)")
            // Provisioned, but not recorded (the store failed): the clean-up, which works on the
            // demo as stored, would not know the workspace's address or its NetBird peer.
            if demo.connectionURL != nil || demo.networkPeerID != nil { await undoLateProvisioning(of: demo) }
            await cleanUpAtOnce(demoID) { [audit] in
                // The answer is the 503 whatever happens to this entry (a store too ill to write it
                // has failed the clean-up's entries too, and the clean-up resumes at the next rescan).
                try? await audit.record(
                    .demoSessionCreated, by: .account(user), from: address, success: false, resource: ("demo_session", demoID),
                    details: ["workspace_id": workspaceID, "workspace_type": type, "reason": "provisioning_failed", "error": failure])
            }
            throw DomainError.unavailable("The demo workspace could not be provisioned; try again later")
        }
        guard let (recorded, token) = granted else {
            // Ended (an administrator's end) while its workspace was being provisioned. The
            // clean-up worked on the demo as it stood, without what provisioning made, which is
            // undone here; nothing is handed out.
            await undoLateProvisioning(of: demo)
            try? await audit.record(
                .demoSessionCreated, by: .account(user), from: address, success: false, resource: ("demo_session", demo.id),
                details: ["workspace_id": workspace.id, "workspace_type": type, "reason": "ended_while_provisioning"])
            throw DomainError.conflict("The demo was ended while its workspace was being provisioned")
        }
        demo = recorded
        metrics.activeDemos(try await store.activeDemoCount())
        return Started(demo: demo, token: token, workspace: workspace)
    }

    /// Deprovisions the workspace and revokes the NetBird peer that `demo`'s provisioning made
    /// after its clean-up had begun (which deprovisioned what the demo held then, once more now
    /// harmlessly), with the clean-up's retries and entries (`Lifetimes.undoLateProvisioning`).
    /// In a task of its own, as `cleanUpAtOnce`.
    private func undoLateProvisioning(of demo: DemoSession) async {
        await Task { [lifetimes] in await lifetimes.undoLateProvisioning(of: demo) }.value
    }

    /// Ends and cleans up a demo that could not be granted whole, then runs `afterwards` (the
    /// failed creation's entry). In a task of its own: the failure may be the request's
    /// cancellation (a shutdown past its grace period), which would fail the clean-up's writes and
    /// leave the demo holding its slot until it expires. A clean-up that fails still happens at
    /// the demo's expiry, which is armed.
    private func cleanUpAtOnce(_ id: String, afterwards: @escaping @Sendable () async -> Void = {}) async {
        await Task { [lifetimes] in
            _ = try? await lifetimes.cleanUpDemo(id, endingAs: .ended, by: nil)
            await afterwards()
        }.value
    }

    /// The demo `id` if `principal` may see it (an administrator, or its visitor); 404 otherwise,
    /// so nobody learns which ids exist.
    public func demo(id: String, visibleTo principal: Principal) async throws -> DemoSession {
        guard let demo = try await store.demo(id: id), principal.isAdmin || demo.userID == principal.userID else {
            throw DomainError.notFound("Demo session not found")
        }
        return demo
    }

    /// Ends demo `id` now (an administrator or its visitor): the same clean-up as at expiry.
    public func end(_ id: String, by principal: Principal) async throws -> DemoSession {
        let demo = try await demo(id: id, visibleTo: principal)
        guard demo.status == .active else {
            throw DomainError.conflict("Demo session is not active (it is \(demo.status.rawValue))")
        }
        switch try await lifetimes.cleanUpDemo(demo.id, endingAs: .ended, by: principal) {
        case .finished(let finished):
            return finished
        case .notClaimed:
            // Its clean-up was claimed first (an end at once, its expiry, another process).
            throw DomainError.conflict("Demo session is already ending")
        case .unfinished:
            // Access has ended, but the entry that names who ended it comes when the clean-up
            // finishes, which a resumed clean-up does as NeoSC: who asked is recorded now.
            try await audit.record(
                .demoSessionEnded, by: .principal(principal), success: false, resource: ("demo_session", demo.id),
                details: ["ended_by": principal.userID, "visitor": demo.userID, "reason": "cleanup_unfinished"])
            throw DomainError.unavailable("The demo is being cleaned up; its clean-up will be resumed")
        }
    }

    /// After a demo visitor's sign-out (its token revoked, its sessions ended): its demo ends too,
    /// with the whole clean-up. With its only credential gone, nothing could use the demo or end
    /// it, and it would hold its slot and its workspace until its expiry. A clean-up that cannot
    /// finish now is resumed as any is; the sign-out stands either way.
    /// In a task of its own, as `cleanUpAtOnce`: a sign-out whose request is cancelled (a
    /// shutdown) does not cut the clean-up short.
    public func signedOut(_ principal: Principal) async {
        guard principal.role == .demoUser else { return }
        await Task { [self] in
            do {
                guard let demo = try await demo(of: principal), demo.status == .active else { return }
                _ = try await end(demo.id, by: principal)
            } catch {
                logger.warning(
                    "a demo visitor signed out; its demo did not end now (its clean-up resumes, or it expires)",
                    metadata: ["user": "\(principal.userID)", "error": "\(error)"])
            }
        }.value
    }

    /// Moves demo `id`'s end `minutes` (1–1440) later, never past its maximum duration; its
    /// visitor's tokens and deadline move with it. Only administrators may: the caller checks
    /// (the API with an audited refusal), as `demo(id:visibleTo:)` lets a demo's visitor through.
    public func extend(_ id: String, byMinutes minutes: Int, by principal: Principal, from address: String) async throws -> DemoSession {
        guard (1...1_440).contains(minutes) else { throw DomainError.invalid("minutes must be from 1 to 1440") }
        // Read, judged and written in one change, and written only over the expiry it was judged
        // on: extensions at once add up (this process's changes take turns), and one racing
        // another process's is refused rather than lost, or made to shorten the other.
        let (demo, extended): (DemoSession, DemoSession) = try await audit.change {
            let demo = try await self.demo(id: id, visibleTo: principal)
            let now = clock.now()  // once its turn has come: a demo over by then is not extended
            guard let newExpiry = demo.extended(byMinutes: minutes, at: now) else {
                throw DomainError.conflict(
                    demo.grantsAccess(at: now)
                        ? "Demo session is already at its maximum duration (\(demo.maxExpiresAt.formatted(.iso8601)))"
                        : "Demo session is not active")
            }
            guard let extended = try await store.extend(id: demo.id, from: demo.expiresAt, to: newExpiry) else {
                throw DomainError.conflict("Demo session was ended or extended meanwhile; read it and try again")
            }
            try await store.setExpiry(userID: demo.userID, to: newExpiry, at: now)
            try await audit.record(
                .demoSessionExtended, by: .principal(principal), from: address, resource: ("demo_session", demo.id),
                details: [
                    "previous_expires_at": demo.expiresAt.formatted(.iso8601), "expires_at": newExpiry.formatted(.iso8601),
                    "capped": String(newExpiry == demo.maxExpiresAt),
                ])
            return (demo, extended)
        }
        tokenCache.evict(userID: demo.userID)
        await lifetimes.scheduler.arm(.demoExpiry(demoID: demo.id), at: extended.expiresAt)
        return extended
    }

    // MARK: - A demo user's scope

    /// The demo a `demo-user` belongs to, if any (other roles have none).
    public func demo(of principal: Principal) async throws -> DemoSession? {
        guard principal.role == .demoUser else { return nil }
        return try await store.demo(userID: principal.userID)
    }

    /// A demo user may use only its own demo's workspace, and only while the demo lasts; one
    /// with no demo at all may use none (`DemoAccess`). Other roles pass (nil).
    @discardableResult
    public func requireWorkspace(_ workspace: Workspace, for principal: Principal) async throws -> DemoSession? {
        guard principal.role == .demoUser else { return nil }
        let demo = try await demo(of: principal)
        let now = clock.now()
        // Refuses a demo user whose demo is over or who has none, so `demo` is there below.
        try DemoAccess.requireActive(role: principal.role, demo: demo, at: now)
        guard let demo else { return nil }
        try DemoAccess.requireWorkspace(workspace, of: demo, at: now)
        return demo
    }
}
