import Actors
import Domain
import Foundation
import Hummingbird
import Logging
import Metrics
import Services

/// Everything a route needs: the store, the runtime actors, the clock and the settings.
public struct Portal: Sendable {
    public let store: any Store
    public let tokenCache: TokenCache
    public let sessions: SessionRegistry
    /// Failed logins per account: a handful, so guessing one password is slow.
    public let accountThrottle: AttemptThrottle
    /// Failed logins per client address: many more, so one office behind a NAT is not locked out.
    public let addressThrottle: AttemptThrottle
    /// Registrations per client address.
    public let registrationThrottle: AttemptThrottle
    public let passwords: PasswordHasher
    public let clock: WallClock
    public let settings: PortalSettings
    public let logger: Logger
    /// The identity providers trusted besides local accounts (Zitadel, Pomerium).
    public let federation: Federation
    /// Deadlines (demo expiry, session lifetime and idle) and what runs when they pass.
    public let lifetimes: Lifetimes
    /// Where the service's metrics go.
    public let metrics: PortalMetrics
    /// Where every audit entry is written.
    public let auditTrail: AuditTrail
    /// Roles, disabling and administrators, as the API and the CLI change them.
    public let users: UserAdministration
    /// The dashboard's figures.
    public let statistics: Statistics
    let catalogue: WorkspaceCatalogue

    public init(
        store: any Store, tokenCache: TokenCache, sessions: SessionRegistry, accountThrottle: AttemptThrottle,
        addressThrottle: AttemptThrottle, registrationThrottle: AttemptThrottle,
        passwords: PasswordHasher, clock: WallClock, settings: PortalSettings, logger: Logger,
        federation: Federation = .none, demoSettings: DemoSettings = DemoSettings(), demoDrivers: DemoDrivers = DemoDrivers(),
        metrics: PortalMetrics = PortalMetrics(factory: MetricsSystem.factory)
    ) {
        self.store = store
        self.tokenCache = tokenCache
        self.sessions = sessions
        self.accountThrottle = accountThrottle
        self.addressThrottle = addressThrottle
        self.registrationThrottle = registrationThrottle
        self.passwords = passwords
        self.clock = clock
        self.settings = settings
        self.logger = logger
        self.federation = federation
        self.metrics = metrics
        self.auditTrail = AuditTrail(store: store, clock: clock)
        self.users = UserAdministration(
            store: store, passwords: passwords, tokenCache: tokenCache, sessions: sessions, audit: auditTrail, clock: clock)
        self.statistics = Statistics(store: store, clock: clock)
        self.lifetimes = Lifetimes(
            store: store, tokenCache: tokenCache, sessions: sessions, audit: auditTrail, clock: clock, settings: demoSettings,
            drivers: demoDrivers, logger: logger, activeDemosChanged: { metrics.activeDemos($0) })
        self.catalogue = WorkspaceCatalogue(cache: RefreshingCache(maxAge: sessions.maxAge, clock: clock))
    }

    /// Loads what the runtime actors mirror from the store; call once before serving.
    public func prepare() async throws {
        try await reloadSessions(at: clock.now())
    }

    /// Active sessions per workspace, from the registry (reloaded first when it may be stale).
    func activeSessionCounts() async throws -> [String: Int] {
        let now = clock.now()
        if await sessions.needsLoad(at: now) {
            try await reloadSessions(at: now)
        }
        return await sessions.activeCountsByWorkspace()
    }

    private func reloadSessions(at now: Date) async throws {
        await sessions.load(try await store.sessions(userID: nil, status: .active, limit: Int.max), at: now)
    }

    // MARK: - Identity

    /// The identity a bearer token stands for, or why it stands for none.
    func identity(forToken token: String) async throws -> Result<Identity, DomainError> {
        guard BearerCredential.isWellFormed(token) else { return .failure(.unauthenticated("Invalid token")) }
        let digest = BearerCredential.digest(token)
        let now = clock.now()
        if let cached = await tokenCache.identity(forDigest: digest), now < cached.principal.credentialExpiresAt {
            return .success(cached)
        }
        let ticket = await tokenCache.fillTicket()
        guard let record = try await store.token(digest: digest), record.isValid(at: now) else {
            return .failure(.unauthenticated("Invalid or expired token"))
        }
        guard let user = try await store.user(id: record.userID), !user.disabled else {
            return .failure(.unauthenticated("Account is disabled"))
        }
        // A demo's token is good only while its demo is: ended early, being cleaned up, or absent, refused.
        if user.role == .demoUser {
            let demo = try await store.demo(userID: user.id)
            do throws(DomainError) {
                try DemoAccess.requireActive(role: user.role, demo: demo, at: now)
            } catch {
                return .failure(error)
            }
        }
        let principal = Principal(
            userID: user.id, email: user.email, name: user.name, role: user.role,
            organizationID: user.organizationID, mfaVerified: record.mfaVerified, credentialDigest: digest,
            credentialExpiresAt: record.expiresAt)
        let organization = try await user.organizationID.asyncFlatMap { try await store.organization(id: $0) }
        let identity = Identity(principal: principal, user: user, organization: organization)
        await tokenCache.remember(identity, ticket: ticket)
        return .success(identity)
    }

    /// Issues and stores a new bearer token for `user`, valid for the configured lifetime but
    /// never past `notAfter`.
    func issueToken(
        for user: User, mfaVerified: Bool, notAfter: Date = .distantFuture
    ) async throws
        -> (token: String, expiresAt: Date)
    {
        let (token, digest) = BearerCredential.issue()
        let now = clock.now()
        let expiresAt = min(now.addingTimeInterval(settings.tokenLifetime), notAfter)
        try await store.insert(
            AccessToken(digest: digest, userID: user.id, issuedAt: now, expiresAt: expiresAt, mfaVerified: mfaVerified))
        return (token, expiresAt)
    }

    // MARK: - Audit

    /// Appends one audit entry for a request, from its client address (see `AuditTrail.record`).
    func audit(
        _ action: AuditAction, by actor: AuditActor, in context: some PortalContext, success: Bool = true,
        resource: (type: String, id: String)? = nil, details: [String: String] = [:]
    ) async throws {
        try await auditTrail.record(
            action, by: actor, from: context.clientAddress, success: success, resource: resource, details: details)
    }

    /// Refuses non-administrators, recording the refusal.
    func requireAdmin(_ principal: Principal, to action: String, in context: some PortalContext) async throws {
        do {
            try AccessRules.requireAdmin(principal, to: action)
        } catch {
            try await audit(
                .accessDenied, by: .principal(principal), in: context, success: false,
                details: ["reason": error.detail, "path": context.endpointPath ?? ""])
            throw error
        }
    }

    /// Ends sessions that the store has already ended, in the registry too.
    func forget(_ ended: [WorkspaceSession]) async {
        guard !ended.isEmpty else { return }
        await sessions.ended(ended)
    }
}
