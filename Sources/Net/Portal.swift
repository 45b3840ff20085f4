import Actors
import Domain
import Foundation
import Hummingbird
import Logging
import Metrics
import Services

/// The application's services and runtime actors, wired once, from which each route collection
/// is handed what it calls.
public struct Portal: Sendable {
    public let store: any Store
    public let tokenCache: TokenCache
    public let sessions: SessionRegistry
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
    /// Local accounts signing in and out, the tokens NeoSC issues and what they stand for.
    public let signIn: SignIn
    /// The accounts behind identities a provider vouched for.
    public let externalAccounts: ExternalAccounts
    /// Just-in-time demos, from start to end, and a demo user's scope.
    public let demos: DemoLifecycle
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
        self.passwords = passwords
        self.clock = clock
        self.settings = settings
        self.logger = logger
        self.federation = federation
        self.metrics = metrics
        let auditTrail = AuditTrail(store: store, clock: clock)
        self.auditTrail = auditTrail
        let signIn = SignIn(
            store: store, tokenCache: tokenCache, sessions: sessions, passwords: passwords,
            throttles: .init(accountLogins: accountThrottle, addressLogins: addressThrottle, registrations: registrationThrottle),
            audit: auditTrail, clock: clock, metrics: metrics,
            settings: .init(tokenLifetime: settings.tokenLifetime, allowRegistration: settings.allowRegistration))
        self.signIn = signIn
        self.externalAccounts = ExternalAccounts(store: store, tokenCache: tokenCache, audit: auditTrail, clock: clock, metrics: metrics)
        self.users = UserAdministration(
            store: store, passwords: passwords, tokenCache: tokenCache, sessions: sessions, audit: auditTrail, clock: clock)
        self.statistics = Statistics(store: store, clock: clock)
        let lifetimes = Lifetimes(
            store: store, tokenCache: tokenCache, sessions: sessions, audit: auditTrail, clock: clock, settings: demoSettings,
            drivers: demoDrivers, logger: logger, activeDemosChanged: { metrics.activeDemos($0) })
        self.lifetimes = lifetimes
        self.demos = DemoLifecycle(
            store: store, lifetimes: lifetimes, signIn: signIn, tokenCache: tokenCache, audit: auditTrail, clock: clock,
            metrics: metrics, logger: logger)
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

    // MARK: - Audit

    /// Appends one audit entry for a request, from its client address (see `AuditTrail.record`).
    func audit(
        _ action: AuditAction, by actor: AuditActor, in context: some PortalContext, success: Bool = true,
        resource: (type: String, id: String)? = nil, details: [String: String] = [:]
    ) async throws {
        try await auditTrail.record(action, by: actor, in: context, success: success, resource: resource, details: details)
    }

    /// Refuses non-administrators, recording the refusal (see `AuditTrail.requireAdmin`).
    func requireAdmin(_ principal: Principal, to action: String, in context: some PortalContext) async throws {
        try await auditTrail.requireAdmin(principal, to: action, in: context)
    }

    /// Ends sessions that the store has already ended, in the registry too.
    func forget(_ ended: [WorkspaceSession]) async {
        guard !ended.isEmpty else { return }
        await sessions.ended(ended)
    }
}
