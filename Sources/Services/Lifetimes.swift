import Actors
import Domain
import Foundation
import Logging

/// What ends things on time: session lifetimes and idle timeouts, and demos with their clean-up.
/// One `ExpiryScheduler` holds every deadline; this service arms them (for a new session, and from
/// the store at start-up and on each rescan) and acts when they pass. A demo's clean-up runs step
/// by step, each retried with backoff and audited, by the one replica that wins the store's claim.
public struct Lifetimes: Sendable {
    public let scheduler: ExpiryScheduler
    public let settings: DemoSettings
    public let drivers: DemoDrivers
    /// Unique per process, so a replica's claims are its own.
    public let replicaID: String
    /// Demo clean-ups running in this process.
    private let cleanupsRunning = ExclusiveKeys()
    private let store: any Store
    private let tokenCache: TokenCache
    private let sessions: SessionRegistry
    private let audit: AuditTrail
    private let clock: WallClock
    private let logger: Logger
    /// Told the number of active demos whenever it may have changed (a metric in `neosc serve`).
    private let activeDemosChanged: @Sendable (Int) -> Void

    public init(
        store: any Store, tokenCache: TokenCache, sessions: SessionRegistry, audit: AuditTrail, clock: WallClock,
        settings: DemoSettings = DemoSettings(), drivers: DemoDrivers = DemoDrivers(),
        replicaID: String = Identifier.make("replica"), logger: Logger,
        activeDemosChanged: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.scheduler = ExpiryScheduler(clock: clock)
        self.settings = settings
        self.drivers = drivers
        self.replicaID = replicaID
        self.store = store
        self.tokenCache = tokenCache
        self.sessions = sessions
        self.audit = audit
        self.clock = clock
        self.logger = logger
        self.activeDemosChanged = activeDemosChanged
    }

    // MARK: - Arming

    /// Arms a new session's lifetime and idle deadlines.
    public func armDeadlines(of session: WorkspaceSession) async {
        let scheduler = scheduler
        if let expiresAt = session.expiresAt { await scheduler.arm(.sessionLifetime(sessionID: session.id), at: expiresAt) }
        await scheduler.arm(
            .sessionIdle(sessionID: session.id), at: session.lastSeenAt.addingTimeInterval(settings.idleTimeout))
    }

    /// Re-arms every persisted deadline: active sessions' lifetimes and idle deadlines, and
    /// unfinished demos. Overdue ones fire at once. Called at start-up and by the rescan, which
    /// also picks up deadlines other replicas armed and clean-ups a dead replica left behind.
    public func armPersistedDeadlines() async throws -> Int {
        let sessions = try await store.sessions(userID: nil, status: .active, limit: Int.max)
        let demos = try await store.unfinishedDemos()
        let idle = settings.idleTimeout
        var deadlines: [(DeadlineKey, Date)] = []
        deadlines.reserveCapacity(sessions.count * 2 + demos.count)
        for session in sessions {
            if let expiresAt = session.expiresAt { deadlines.append((.sessionLifetime(sessionID: session.id), expiresAt)) }
            deadlines.append((.sessionIdle(sessionID: session.id), session.lastSeenAt.addingTimeInterval(idle)))
        }
        for demo in demos {
            // An expiring demo is resumed once its claim lapses.
            let due = demo.status == .expiring ? (demo.claimedUntil ?? demo.expiresAt) : demo.expiresAt
            deadlines.append((.demoExpiry(demoID: demo.id), due))
        }
        await scheduler.arm(deadlines)
        activeDemosChanged(demos.filter { $0.status == .active }.count)
        return deadlines.count
    }

    // MARK: - Firing

    /// Acts on a deadline that came due. Never throws: a failure is logged, and the deadline is
    /// armed again a little later so nothing is dropped.
    public func handleDeadline(_ key: DeadlineKey) async {
        do {
            switch key {
            case .sessionLifetime(let id): try await endSessionAtLifetime(id)
            case .sessionIdle(let id): try await endSessionIfIdle(id)
            case .demoExpiry(let id): try await cleanUpDemo(id, endingAs: .expired, by: nil)
            }
        } catch {
            logger.warning("deadline handling failed; retrying", metadata: ["deadline": "\(key)", "error": "\(error)"])
            await scheduler.arm(key, at: clock.now().addingTimeInterval(settings.retryDelay * 5))
        }
    }

    private func endSessionAtLifetime(_ id: String) async throws {
        try await endSession(
            id, deadline: .sessionLifetime(sessionID: id), other: .sessionIdle(sessionID: id), ending: .lifetimeReached,
            action: .sessionExpired, due: { $0.expiresAt }, details: { _, _ in ["reason": "max_duration"] })
    }

    /// Heartbeats only write the store: the idle deadline moves when it fires and finds one.
    private func endSessionIfIdle(_ id: String) async throws {
        let idle = settings.idleTimeout
        try await endSession(
            id, deadline: .sessionIdle(sessionID: id), other: .sessionLifetime(sessionID: id), ending: .idleTimeout,
            action: .sessionIdleTimeout, due: { $0.lastSeenAt.addingTimeInterval(idle) },
            details: { session, now in ["idle_seconds": String(Int(now.timeIntervalSince(session.lastSeenAt)))] })
    }

    /// Ends session `id` if its `due` time (as the store has it now) has passed, and audits it;
    /// if the time moved later, re-arms `deadline` for it instead. Its `other` deadline is dropped.
    private func endSession(
        _ id: String, deadline: DeadlineKey, other: DeadlineKey, ending: SessionEnding, action: AuditAction,
        due: (WorkspaceSession) -> Date?, details: (WorkspaceSession, Date) -> [String: String]
    ) async throws {
        let now = clock.now()
        guard let session = try await store.session(id: id), session.status == .active else { return }
        if let due = due(session), due > now {
            await scheduler.arm(deadline, at: due)
            return
        }
        let ended: WorkspaceSession? = try await audit.change {
            guard let ended = try await store.end(id: id, ending, at: now) else { return nil }
            try await auditSystem(
                action, resource: ("session", id),
                details: details(session, now).merging(["owner": ended.userID, "workspace_id": ended.workspaceID]) { a, _ in a },
                email: ended.userEmail, userID: ended.userID)
            return ended
        }
        guard let ended else { return }
        await sessions.ended([ended])
        await scheduler.disarm(other)
    }

    // MARK: - Demo clean-up

    /// How a call of `cleanUpDemo` went.
    public enum DemoCleanup: Sendable {
        /// This call finished it.
        case finished(DemoSession)
        /// Another clean-up holds it (in this process, or another's claim), or it was not due or
        /// is finished already: this call did nothing.
        case notClaimed
        /// This call claimed it but could not finish (a step kept failing, or the claim lapsed):
        /// the clean-up resumes from where it stopped.
        case unfinished
    }

    /// Takes back everything a demo was given, step by step, each retried with backoff and
    /// audited. Only the replica that wins the store's claim runs it; a step that keeps failing
    /// leaves the claim to lapse, and the clean-up resumes (from that step) at the next attempt.
    @discardableResult
    public func cleanUpDemo(_ id: String, endingAs: DemoSession.Status, by principal: Principal?) async throws -> DemoCleanup {
        // One clean-up of a demo at a time in this process; the store's claim covers other processes.
        guard await cleanupsRunning.take(id) else { return .notClaimed }
        do {
            let finished = try await claimAndCleanUp(id, endingAs: endingAs, by: principal)
            await cleanupsRunning.release(id)
            return finished
        } catch {
            await cleanupsRunning.release(id)
            throw error
        }
    }

    private func claimAndCleanUp(
        _ id: String, endingAs: DemoSession.Status, by principal: Principal?
    ) async throws
        -> DemoCleanup
    {
        let settings = settings
        // Each claim has its own name, so a run whose claim lapsed cannot act on a later one.
        let replica = "\(replicaID)/\(Identifier.make("claim"))"
        var now = clock.now()
        guard
            var demo = try await store.claimCleanup(
                id: id, replica: replica, endingAs: endingAs, at: now, leaseUntil: now + settings.claimLease)
        else {
            // Not due, finished, or another replica holds it: look again when its claim could lapse.
            if let current = try await store.demo(id: id) {
                switch current.status {
                case .active: await scheduler.arm(.demoExpiry(demoID: id), at: current.expiresAt)
                case .expiring:
                    await scheduler.arm(.demoExpiry(demoID: id), at: current.claimedUntil ?? now + settings.claimLease)
                case .expired, .ended: break
                }
            }
            return .notClaimed
        }
        // Access ends now whatever happens below: the token cache forgets the demo's identity.
        tokenCache.evict(userID: demo.userID)
        for step in demo.pendingSteps where step != .markFinished {
            guard try await runCleanupStep(step, of: demo, claim: replica) else {
                await scheduler.arm(.demoExpiry(demoID: id), at: clock.now() + settings.claimLease)
                return .unfinished
            }
            now = clock.now()
            guard try await store.completeStep(step, id: id, replica: replica, leaseUntil: now + settings.claimLease) else {
                return .unfinished  // The claim lapsed and another replica took over.
            }
            demo.completedSteps.append(step)
        }
        let finished: DemoSession? = try await audit.change {
            guard let finished = try await store.finish(id: id, replica: replica, at: clock.now()) else { return nil }
            let action: AuditAction = finished.status == .ended ? .demoSessionEnded : .demoSessionExpired
            var details = ["workspace_id": finished.workspaceID, "steps": DemoCleanupStep.allCases.map(\.rawValue).joined(separator: ",")]
            if let principal {
                // Ended by someone (the visitor, an administrator): theirs, as every change asked
                // for is, with the visitor's account named.
                details["ended_by"] = principal.userID
                details["visitor"] = finished.userID
                try await audit.record(action, by: .principal(principal), resource: ("demo_session", id), details: details)
            } else {
                try await auditSystem(action, resource: ("demo_session", id), details: details, email: nil, userID: finished.userID)
            }
            return finished
        }
        guard let finished else { return .unfinished }
        await scheduler.disarm(.demoExpiry(demoID: id))
        activeDemosChanged(try await store.activeDemoCount())
        return .finished(finished)
    }

    /// Undoes what `demo`'s provisioning made after its clean-up had begun (an end while it was
    /// provisioned): the workspace deprovisioned and the NetBird peer revoked, each step retried
    /// with backoff and audited as the clean-up's are, with `after_end`. The demo's record is
    /// finished, so a step that still fails is not resumed: its failed entries (and the log) are
    /// what an operator acts on.
    public func undoLateProvisioning(of demo: DemoSession) async {
        for step in [DemoCleanupStep.deprovisionWorkspace, .revokeNetworkPeer] {
            let outcome = try? await attempt(step, of: demo, noting: ["after_end": "true"])
            if outcome != .succeeded {
                logger.error(
                    "a demo ended while it was provisioned: undoing its provisioning keeps failing",
                    metadata: ["demo": "\(demo.id)", "step": "\(step.rawValue)"])
            }
        }
    }

    /// Runs one step of a claimed clean-up with retries and backoff, each attempt only while the
    /// claim holds for a lease from then; true once it succeeded.
    private func runCleanupStep(_ step: DemoCleanupStep, of demo: DemoSession, claim: String) async throws -> Bool {
        let settings = settings
        let outcome = try await attempt(step, of: demo) {
            try await store.renewClaim(id: demo.id, replica: claim, leaseUntil: clock.now() + settings.claimLease)
        }
        if outcome == .failed {
            logger.error("demo clean-up step keeps failing; will resume", metadata: ["demo": "\(demo.id)", "step": "\(step.rawValue)"])
        }
        return outcome == .succeeded
    }

    private enum StepOutcome { case succeeded, failed, stopped }

    /// `step` tried up to `cleanupAttempts` times with exponential backoff from `retryDelay`,
    /// each attempt audited as `demo_cleanup_step` (with what it did, or its error, and `noting`);
    /// `mayGoOn` is asked before each attempt, and stops them when false.
    private func attempt(
        _ step: DemoCleanupStep, of demo: DemoSession, noting extra: [String: String] = [:],
        mayGoOn: () async throws -> Bool = { true }
    ) async throws -> StepOutcome {
        let settings = settings
        for attempt in 1...max(1, settings.cleanupAttempts) {
            guard try await mayGoOn() else { return .stopped }
            let details = extra.merging(["step": step.rawValue, "attempt": String(attempt)]) { $1 }
            do {
                let done = try await perform(step, of: demo)
                try await auditSystem(
                    .demoCleanupStep, resource: ("demo_session", demo.id), details: done.merging(details) { $1 }, email: nil,
                    userID: demo.userID)
                return .succeeded
            } catch let error as CancellationError {
                throw error
            } catch {
                try await auditSystem(
                    .demoCleanupStep, resource: ("demo_session", demo.id), details: details.merging(["error": "\(error)"]) { $1 },
                    email: nil, userID: demo.userID, success: false)
                if attempt < settings.cleanupAttempts {
                    try await Task.sleep(for: .milliseconds(Int(settings.retryDelay * 1_000 * pow(2, Double(attempt - 1)))))
                }
            }
        }
        return .failed
    }

    /// Runs `step`; what it did, for its entry (`sessions_terminated`, `tokens_revoked`, the
    /// NetBird peer revoked), as other changes that end sessions or revoke tokens say.
    private func perform(_ step: DemoCleanupStep, of demo: DemoSession) async throws -> [String: String] {
        let drivers = drivers
        switch step {
        case .endSessions:
            let ended = try await store.endAll(userID: demo.userID, .demoEnded, at: clock.now())
            await sessions.ended(ended)
            for session in ended {
                await scheduler.disarm(.sessionLifetime(sessionID: session.id))
                await scheduler.disarm(.sessionIdle(sessionID: session.id))
            }
            var done = ["sessions_terminated": String(ended.count)]
            if !ended.isEmpty { done["session_ids"] = ended.map(\.id).joined(separator: ",") }
            return done
        case .deprovisionWorkspace:
            try await drivers.provisioner.deprovision(demo)
        case .revokeNetworkPeer:
            if let peer = demo.networkPeerID, let network = drivers.network {
                try await network.revokePeer(peer)
                return ["peer_id": peer]
            }
        case .removeIdentityRole:
            if let identity = drivers.identity, let user = try await store.user(id: demo.userID) {
                try await identity.removeRole(of: user)
            }
        case .revokeToken:
            let revoked = try await store.revokeAll(userID: demo.userID, at: clock.now())
            tokenCache.evict(userID: demo.userID)
            return ["tokens_revoked": String(revoked)]
        case .markFinished:
            break
        }
        return [:]
    }

    /// An audit entry written by NeoSC itself (a deadline), about `userID`'s resource.
    private func auditSystem(
        _ action: AuditAction, resource: (type: String, id: String), details: [String: String], email: String?,
        userID: String?, success: Bool = true
    ) async throws {
        try await audit.record(
            action, by: .system(onAccount: userID, email: email), success: success, resource: resource, details: details)
    }
}
