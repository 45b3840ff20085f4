import Actors
import Domain
import Foundation

/// Workspace sessions from launch to end: launching within the role, demo and per-user limits,
/// stopping, disconnecting, heartbeats, who may see which, and the live counts per workspace.
/// Launches (refused ones too), stops and disconnects are audited; heartbeats are liveness, not
/// changes of state, and are not.
public struct WorkspaceSessions: Sendable {
    /// A session just launched, and the workspace it runs.
    public struct Launch: Sendable {
        public let session: WorkspaceSession
        public let workspace: Workspace
    }

    /// Active sessions one account may hold at once (`NEOSC_MAX_SESSIONS_PER_USER`).
    public let maxPerUser: Int
    private let store: any Store
    private let registry: SessionRegistry
    private let lifetimes: Lifetimes
    private let demos: DemoLifecycle
    private let audit: AuditTrail
    private let clock: WallClock
    private let metrics: PortalMetrics

    /// The policies a launch must pass.
    private let policies: Policies
    /// The NetBird peers users registered, asked again when a launch needs one.
    private let networkPeers: NetworkPeers

    public init(
        store: any Store, registry: SessionRegistry, lifetimes: Lifetimes, demos: DemoLifecycle, audit: AuditTrail,
        clock: WallClock, metrics: PortalMetrics, maxPerUser: Int, policies: Policies, networkPeers: NetworkPeers
    ) {
        self.policies = policies
        self.networkPeers = networkPeers
        self.store = store
        self.registry = registry
        self.lifetimes = lifetimes
        self.demos = demos
        self.audit = audit
        self.clock = clock
        self.metrics = metrics
        self.maxPerUser = maxPerUser
    }

    /// Loads the registry from the store; call once before serving.
    public func prepare() async throws {
        try await reload(at: clock.now())
    }

    /// Active sessions of `userID`, or everyone's when nil, from the registry (reloaded first when
    /// it may be stale), as the list's counts are.
    public func activeCount(userID: String?) async throws -> Int {
        try await refreshRegistryIfStale()
        guard let userID else { return await registry.activeCount }
        return await registry.activeCount(userID: userID)
    }

    /// Active sessions per workspace, from the registry (reloaded first when it may be stale).
    public func activeCountsByWorkspace() async throws -> [String: Int] {
        try await refreshRegistryIfStale()
        return await registry.activeCountsByWorkspace()
    }

    private func refreshRegistryIfStale() async throws {
        try await registry.refreshIfStale(at: clock.now()) { [store] in
            try await store.sessions(userID: nil, status: .active, limit: Int.max)
        }
    }

    /// Launches workspace `workspaceID` for `principal`: refused (and audited with the reason)
    /// when its role may not, a demo user strays from its demo's workspace, the workspace is not
    /// available, or the account already holds `maxPerUser` active sessions (checked atomically
    /// in the store). The session's lifetime and idle deadlines are armed.
    public func launch(_ workspaceID: String, by principal: Principal, from address: String) async throws -> Launch {
        let started = ContinuousClock.now
        let workspace = try await workspace(workspaceID)
        var session = WorkspaceSession.launch(id: Identifier.make("ses"), of: workspace, by: principal, from: address, at: clock.now())
        do {
            try AccessRules.requireLaunchable(workspace, by: principal)
            // A registered NetBird peer is looked up only where a policy could ask for one.
            var registeredPeer = false
            if workspace.requiresNetbird, try await policies.current().contains(where: { $0.enabled && $0.kind == .networkRequired }),
                let user = try await store.user(id: principal.userID)
            {
                registeredPeer = await networkPeers.proves(user)
            }
            let decision = try await policies.check(
                PolicyRequest(
                    stage: .launch, role: principal.role, userID: principal.userID, organizationID: principal.organizationID,
                    workspaceID: workspace.id, workspaceRequiresNetbird: workspace.requiresNetbird, address: address,
                    mfaVerified: principal.mfaVerified, claims: principal.claims, hasRegisteredPeer: registeredPeer,
                    at: clock.now()), by: .principal(principal))
            session.recording = decision.recordingRetentionDays != nil
            if let demo = try await demos.requireWorkspace(workspace, for: principal) {
                // A demo's sessions end with the demo (its clean-up ends them); even an extended
                // demo never lets one run past the demo's maximum duration.
                session.expiresAt = min(session.expiresAt ?? demo.maxExpiresAt, demo.maxExpiresAt)
            }
            // The session and its entry commit together (issue #14).
            try await audit.change {
                try await requireStillLaunchable(workspace.id, by: principal)
                try await store.start(session, limit: maxPerUser)
                try await audit.record(
                    .launchWorkspace, by: .principal(principal), from: address, resource: ("workspace", workspace.id),
                    details: session.recording ? ["session_id": session.id, "recording": "true"] : ["session_id": session.id])
            }
        } catch let refusal as PolicyRefusal {
            // Audited `policy_denied` where it was decided.
            metrics.launch(succeeded: false, duration: ContinuousClock.now - started)
            throw refusal
        } catch let refusal as DomainError {
            metrics.launch(succeeded: false, duration: ContinuousClock.now - started)
            // An unavailable store is no refusal to record: the launch may even have committed
            // (its answer was lost), its own entry with it.
            if case .unavailable = refusal { throw refusal }
            try await audit.record(
                .launchWorkspace, by: .principal(principal), from: address, success: false, resource: ("workspace", workspace.id),
                details: ["reason": refusal.detail])
            throw refusal
        }
        await registry.started(session)
        await lifetimes.armDeadlines(of: session)
        metrics.launch(succeeded: true, duration: ContinuousClock.now - started)
        return Launch(session: session, workspace: workspace)
    }

    /// The launch judged again on the credential, the account and the workspace as stored now,
    /// inside the launch's own change: a token revoked (a logout, a password reset), a role taken
    /// away, an account disabled or a workspace's roles narrowed since the caller's credential was
    /// read (by this process, or by another within its token cache's lifetime) is not outrun by the
    /// launch, whose session that change's sweep would not see. (A credential that is not a NeoSC
    /// token, a provider's or Pomerium's, is not in the store: the provider revokes those.)
    private func requireStillLaunchable(_ workspaceID: String, by principal: Principal) async throws {
        if let token = try await store.token(digest: principal.credentialDigest), !token.isValid(at: clock.now()) {
            throw DomainError.unauthenticated("Invalid or expired token")
        }
        guard let owner = try await store.user(id: principal.userID), !owner.disabled else {
            throw DomainError.forbidden("Account is disabled")
        }
        guard let current = try await store.workspace(id: workspaceID) else { throw DomainError.notFound("Workspace not found") }
        var asStored = principal
        asStored.role = owner.role
        try AccessRules.requireLaunchable(current, by: asStored)
    }

    /// Ends `principal`'s newest active session on workspace `workspaceID`; 409 if there is none.
    public func stop(_ workspaceID: String, by principal: Principal, from address: String) async throws -> WorkspaceSession {
        let workspace = try await workspace(workspaceID)
        let ended = try await audit.change {
            guard let ended = try await store.end(userID: principal.userID, workspaceID: workspace.id, .stopped, at: clock.now())
            else {
                throw DomainError.conflict("You have no active session on this workspace")
            }
            try await audit.record(
                .stopWorkspace, by: .principal(principal), from: address, resource: ("workspace", workspace.id),
                details: ["session_id": ended.id])
            return ended
        }
        await registry.ended([ended])
        return ended
    }

    /// Sessions newest first: an administrator's choice of everyone's or one user's (`userID`),
    /// anyone else's own whatever `userID` says.
    public func sessions(
        visibleTo principal: Principal, userID: String?, status: SessionStatus?, limit: Int
    ) async throws
        -> [WorkspaceSession]
    {
        try await store.sessions(userID: principal.isAdmin ? userID : principal.userID, status: status, limit: limit)
    }

    /// Session `id` if `principal` owns it or is an administrator; 404 otherwise, so nobody
    /// learns which ids exist.
    public func session(_ id: String, visibleTo principal: Principal) async throws -> WorkspaceSession {
        guard let session = try await store.session(id: id) else {
            throw DomainError.notFound("Session not found")
        }
        try AccessRules.requireOwnerOrAdmin(of: session, principal)
        return session
    }

    /// Ends session `id` (its owner or an administrator) as `disconnected`; 409 if it is not active.
    public func disconnect(_ id: String, by principal: Principal, from address: String) async throws -> WorkspaceSession {
        let session = try await session(id, visibleTo: principal)
        let ended = try await audit.change {
            guard let ended = try await store.end(id: session.id, .disconnected, at: clock.now()) else {
                throw DomainError.conflict("Session is not active (it is \(session.status.rawValue))")
            }
            try await audit.record(
                .disconnectSession, by: .principal(principal), from: address, resource: ("session", ended.id),
                details: ["owner": ended.userID, "workspace_id": ended.workspaceID])
            return ended
        }
        await registry.ended([ended])
        return ended
    }

    /// The client is still there: moves `last_seen_at` to now, and the idle deadline with it;
    /// 409 if the session is not active.
    public func heartbeat(_ id: String, by principal: Principal) async throws -> WorkspaceSession {
        let session = try await session(id, visibleTo: principal)
        guard let touched = try await store.touch(id: session.id, at: clock.now()) else {
            throw DomainError.conflict("Session is not active (it is \(session.status.rawValue))")
        }
        return touched
    }

    private func workspace(_ id: String) async throws -> Workspace {
        guard let workspace = try await store.workspace(id: id) else {
            throw DomainError.notFound("Workspace not found")
        }
        return workspace
    }

    private func reload(at now: Date) async throws {
        await registry.load(try await store.sessions(userID: nil, status: .active, limit: Int.max), at: now)
    }
}
