import Actors
import Domain
import Foundation
import Hummingbird
import Integrations
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
    /// The trail's signed checkpoints and its verification.
    public let auditIntegrity: AuditIntegrity
    /// Local accounts signing in and out, the tokens NeoSC issues and what they stand for.
    public let signIn: SignIn
    /// The accounts behind identities a provider vouched for.
    public let externalAccounts: ExternalAccounts
    /// Just-in-time demos, from start to end, and a demo user's scope.
    public let demos: DemoLifecycle
    /// Launching, stopping, disconnecting and listing workspace sessions.
    public let workspaceSessions: WorkspaceSessions
    /// The catalogue as administrators change it.
    public let workspaceAdministration: WorkspaceAdministration
    /// Roles, disabling and administrators, as the API and the CLI change them.
    public let users: UserAdministration
    /// The security policies, and switching them.
    public let policies: Policies
    /// The NetBird peers accounts register for `network_required` policies.
    public let networkPeers: NetworkPeers
    /// Organisations, and creating them.
    public let organizations: Organizations
    /// The dashboard's figures.
    public let statistics: Statistics
    /// Whether the store answers reads and accepts writes (`/health`).
    public let storeHealth: StoreHealth
    /// The claims NeoSC adds to Zitadel's tokens (an Actions v2 target).
    public let tokenComplement: TokenComplement
    /// The upstreams NeoSC may connect to for workspace streams (`NEOSC_STREAM_UPSTREAMS`); empty:
    /// streaming is off.
    public let streamUpstreams: StreamUpstreamAllowlist
    /// Workspace streams: their tickets, admission and audit (issue #17).
    public let streams: WorkspaceStreams
    /// Recordings of streams of recorded sessions; nil when there is nowhere to keep them.
    public let recordings: Recordings?
    let catalogue: WorkspaceCatalogue

    public init(
        store: any Store, tokenCache: TokenCache, sessions: SessionRegistry, accountThrottle: AttemptThrottle,
        addressThrottle: AttemptThrottle, registrationThrottle: AttemptThrottle,
        passwords: PasswordHasher, clock: WallClock, settings: PortalSettings, logger: Logger,
        federation: Federation = .none, demoSettings: DemoSettings = DemoSettings(), demoDrivers: DemoDrivers = DemoDrivers(),
        metrics: PortalMetrics = PortalMetrics(factory: MetricsSystem.factory),
        auditSigningKey: AuditSigningKey = AuditSigningKey(), trustedAuditKeys: [[UInt8]] = [],
        networkPeerDirectory: (any NetworkPeerDirectory)? = nil,
        streamUpstreams: StreamUpstreamAllowlist = StreamUpstreamAllowlist(), recordingArchive: (any RecordingArchive)? = nil
    ) {
        self.store = store
        self.streamUpstreams = streamUpstreams
        self.tokenCache = tokenCache
        self.sessions = sessions
        self.passwords = passwords
        self.clock = clock
        self.settings = settings
        self.logger = logger
        self.federation = federation
        self.metrics = metrics
        let auditIntegrity = AuditIntegrity(store: store, key: auditSigningKey, alsoTrusted: trustedAuditKeys, clock: clock)
        self.auditIntegrity = auditIntegrity
        let auditTrail = AuditTrail(store: store, clock: clock, integrity: auditIntegrity)
        self.auditTrail = auditTrail
        let policies = Policies(
            store: store, audit: auditTrail, clock: clock, maxAge: sessions.maxAge, limits: RateLimits(clock: clock))
        let signIn = SignIn(
            store: store, tokenCache: tokenCache, sessions: sessions, passwords: passwords,
            throttles: .init(
                accountLogins: accountThrottle, addressLogins: addressThrottle, registrations: registrationThrottle,
                pairLogins: AttemptThrottle(limit: 10, clock: clock),
                accountAttempts: AttemptThrottle(limit: 30, window: 60, clock: clock),
                addressAttempts: AttemptThrottle(limit: 300, window: 60, clock: clock)),
            audit: auditTrail, clock: clock, metrics: metrics,
            settings: .init(tokenLifetime: settings.tokenLifetime, allowRegistration: settings.allowRegistration),
            policies: policies,
            secondFactors: SecondFactors(
                store: store, algorithm: HummingbirdTOTP(), audit: auditTrail, tokenCache: tokenCache, clock: clock,
                failures: AttemptThrottle(limit: SecondFactors.failureLimit, clock: clock)))
        self.signIn = signIn
        self.externalAccounts = ExternalAccounts(
            store: store, tokenCache: tokenCache, sessions: sessions, tokens: signIn, audit: auditTrail, clock: clock, metrics: metrics)
        self.users = UserAdministration(
            store: store, passwords: passwords, tokenCache: tokenCache, sessions: sessions, audit: auditTrail, clock: clock)
        self.storeHealth = StoreHealth(store: store, clock: clock)
        self.tokenComplement = TokenComplement(store: store, clock: clock)
        self.policies = policies
        self.networkPeers = NetworkPeers(
            store: store, directory: networkPeerDirectory, audit: auditTrail, tokenCache: tokenCache, clock: clock)
        self.organizations = Organizations(store: store, audit: auditTrail, clock: clock)
        let lifetimes = Lifetimes(
            store: store, tokenCache: tokenCache, sessions: sessions, audit: auditTrail, clock: clock, settings: demoSettings,
            drivers: demoDrivers, logger: logger, activeDemosChanged: { metrics.activeDemos($0) })
        self.lifetimes = lifetimes
        let catalogue = WorkspaceCatalogue(cache: RefreshingCache(maxAge: sessions.maxAge, clock: clock))
        self.catalogue = catalogue
        let workspaces: @Sendable () async throws -> [Workspace] = { try await catalogue.workspaces(from: store) }
        self.demos = DemoLifecycle(
            store: store, lifetimes: lifetimes, signIn: signIn, tokenCache: tokenCache, audit: auditTrail, clock: clock,
            metrics: metrics, logger: logger, policies: policies, catalogue: workspaces)
        let demos = self.demos
        self.workspaceSessions = WorkspaceSessions(
            store: store, registry: sessions, lifetimes: lifetimes, demos: demos, audit: auditTrail, clock: clock,
            metrics: metrics, maxPerUser: settings.maxSessionsPerUser, policies: policies, networkPeers: networkPeers)
        let workspaceSessions = self.workspaceSessions
        self.statistics = Statistics(
            store: store, clock: clock, policies: { [policies] in try await policies.current() },
            catalogue: { try await catalogue.tally(for: $0, from: store) },
            activeSessions: { try await workspaceSessions.activeCount(userID: $0) })
        let recordings = recordingArchive.map {
            Recordings(archive: $0, policies: policies, audit: auditTrail, clock: clock, logger: logger)
        }
        self.recordings = recordings
        self.streams = WorkspaceStreams(
            store: store, live: sessions.streams, audit: auditTrail, clock: clock,
            upstreams: streamUpstreams, policies: policies, recordings: recordings,
            ticketLifetime: TimeInterval(settings.streams.ticketLifetime.components.seconds),
            activityInterval: settings.streams.activityInterval, logger: logger)
        self.workspaceAdministration = WorkspaceAdministration(
            store: store, registry: sessions, audit: auditTrail, clock: clock, streamUpstreams: streamUpstreams,
            catalogueChanged: { await catalogue.invalidate() })
    }

    /// The WebSocket gateway of workspace streams; nil when no upstream is allowed (streaming is off).
    public var streamGateway: StreamGateway? {
        streams.isEnabled ? StreamGateway(streams: streams, trustedProxies: settings.trustedProxies, settings: settings.streams) : nil
    }

    /// Loads what the runtime actors mirror from the store; call once before serving.
    public func prepare() async throws {
        try await workspaceSessions.prepare()
    }
}
