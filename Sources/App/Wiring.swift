import Actors
import Domain
import Foundation
import Hummingbird
import Integrations
import Logging
import Metrics
import MongoStore
import NIOCore
import NIOPosix
import Net
import Prometheus
import RecordingFiles
import SQLiteStore
import ServiceLifecycle
import Services

/// Builds the running service from a configuration: the store, the actors, the HTTP application.
enum Wiring {
    /// Opens the configured store, seeded with the defaults unless `seeding` is false: MongoDB
    /// when `MONGO_URL` is set (waiting, with backoff, until it is reachable), else the embedded store.
    static func openStore(
        _ configuration: Configuration, logger: Logger, metrics: any MetricsFactory = MetricsSystem.factory,
        seeding: Bool = true
    ) async throws -> any Store {
        let store: any Store
        if let url = configuration.mongoURL {
            store = try await MongoStore.open(
                url: url.value,
                options: .init(
                    poolSize: configuration.mongoPoolSize, timeout: .milliseconds(Int(configuration.mongoTimeout * 1_000)),
                    changeLease: .milliseconds(Int(configuration.mongoChangeLease * 1_000))),
                logger: logger, metrics: metrics)
        } else {
            store = try await openEmbeddedStore(configuration, logger: logger, metrics: metrics)
        }
        if seeding {
            try await whileUnavailable("seeding the store's defaults", logger: logger) { try await store.seedDefaults(at: Date()) }
        }
        return store
    }

    /// Runs a start-up step again, with backoff, while the store answers `unavailable` (a
    /// database slower than `MONGO_TIMEOUT` while it starts or under load): start-up waits
    /// for it, as it waits for a database that is not reachable yet.
    static func whileUnavailable<T>(
        _ step: String, logger: Logger, _ body: () async throws -> T
    ) async throws -> T {
        var delay = Duration.milliseconds(500)
        while true {
            do {
                return try await body()
            } catch DomainError.unavailable(let reason) {
                logger.warning("\(step) failed; retrying", metadata: ["reason": "\(reason)", "retry_in": "\(delay)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            }
        }
    }

    /// Opens (creating if needed) the embedded store under the data directory, migrated.
    static func openEmbeddedStore(
        _ configuration: Configuration, logger: Logger, metrics: any MetricsFactory = MetricsSystem.factory
    ) async throws -> SQLiteStore {
        let directory = URL(fileURLWithPath: configuration.dataDirectory)
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw Configuration.Invalid(
                description: "NEOSC_DATA_DIR '\(configuration.dataDirectory)' cannot be created: \(error.localizedDescription)")
        }
        return try await SQLiteStore.open(
            path: configuration.databasePath, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger,
            metrics: metrics)
    }

    static func makePasswordHasher(_ configuration: Configuration) -> PasswordHasher {
        let threadPool = NIOThreadPool(numberOfThreads: max(1, System.coreCount))
        threadPool.start()
        return PasswordHasher(cost: configuration.bcryptCost, threadPool: threadPool, maxQueued: configuration.bcryptQueue)
    }

    /// A Prometheus registry, the swift-metrics factory that records into it, and its text.
    struct MetricsBackend: Sendable {
        let factory: PrometheusMetricsFactory
        let registry: PrometheusCollectorRegistry
        var exposition: @Sendable () -> String { registry.emitToString }

        /// A registry of its own (each test's NeoSC has one, so no test sees another's traffic).
        static func makePrivate() -> MetricsBackend {
            let registry = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: registry)
            factory.defaultDurationHistogramBuckets = [
                .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
            ]
            return MetricsBackend(factory: factory, registry: registry)
        }

        /// The process's: made the swift-metrics backend on first use (a process can bootstrap
        /// the metrics system once), so libraries that record through it land in the same registry.
        static let process: MetricsBackend = {
            let metrics = makePrivate()
            MetricsSystem.bootstrap(metrics.factory)
            return metrics
        }()
    }

    static func makePortal(
        store: any Store, passwords: PasswordHasher, configuration: Configuration, clock: WallClock = .system,
        http: OutboundHTTP, metrics: MetricsBackend, logger: Logger
    ) async throws -> Portal {
        let portal = Portal(
            store: store,
            tokenCache: TokenCache(lifetime: configuration.cacheLifetime, clock: clock),
            // Other processes (replicas, the neosc CLI) may change sessions and the catalogue too:
            // what this process mirrors is reloaded once it is NEOSC_CACHE_TTL old.
            sessions: SessionRegistry(maxAge: configuration.cacheLifetime),
            accountThrottle: AttemptThrottle(limit: 10, clock: clock),
            addressThrottle: AttemptThrottle(limit: 100, clock: clock),
            registrationThrottle: AttemptThrottle(limit: 20, window: 3_600, clock: clock),
            passwords: passwords,
            clock: clock,
            settings: configuration.portalSettings(metricsExposition: metrics.exposition),
            logger: logger,
            federation: makeFederation(configuration, nonces: store, clock: clock, http: http),
            demoSettings: configuration.demo, demoDrivers: makeDemoDrivers(configuration, clock: clock, http: http),
            metrics: PortalMetrics(factory: metrics.factory),
            auditSigningKey: try configuration.loadAuditSigningKey(), trustedAuditKeys: configuration.auditTrustedKeys,
            networkPeerDirectory: configuration.netbird.map {
                NetBirdPeerRevoker(apiURL: $0.url, token: $0.token.value, http: http)
            },
            streamUpstreams: configuration.streamUpstreams,
            recordingArchive: FileRecordingArchive(
                directory: URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("recordings").path))
        try await whileUnavailable("preparing the portal", logger: logger) { try await portal.prepare() }
        return portal
    }

    /// Account administration outside the server (`neosc admin`): this process caches nothing
    /// another reads, so its token cache and session registry are its own; a running server sees
    /// the change within NEOSC_CACHE_TTL.
    /// Second factors for a command-line tool: its own token cache and counts (a running server
    /// forgets a reset account's cached tokens within `NEOSC_CACHE_TTL`).
    static func makeSecondFactors(store: any Store) -> SecondFactors {
        SecondFactors(
            store: store, algorithm: HummingbirdTOTP(), audit: AuditTrail(store: store, clock: .system, integrity: nil),
            tokenCache: TokenCache(), clock: .system, failures: AttemptThrottle(limit: SecondFactors.failureLimit))
    }

    static func makeUserAdministration(store: any Store, configuration: Configuration) -> UserAdministration {
        UserAdministration(
            store: store, passwords: makePasswordHasher(configuration), tokenCache: TokenCache(), sessions: SessionRegistry(),
            audit: AuditTrail(store: store, clock: .system, integrity: nil), clock: .system)
    }

    /// The identity providers the configuration names, sharing one outbound HTTP client.
    static func makeFederation(
        _ configuration: Configuration, nonces: any NonceStore, clock: WallClock, http: OutboundHTTP
    ) -> Federation {
        Federation(
            oidc: configuration.oidc.map {
                OIDCProvider(
                    settings: $0, http: http, nonces: nonces, clock: clock, keySetMaxAge: configuration.keySetMaxAge,
                    keyRefreshInterval: configuration.keyRefreshInterval)
            },
            pomerium: configuration.pomerium.map {
                PomeriumGate(
                    settings: $0, http: http, clock: clock, keySetMaxAge: configuration.keySetMaxAge,
                    keyRefreshInterval: configuration.keyRefreshInterval)
            },
            clock: clock)
    }

    /// The provisioning and revocation drivers the configuration names.
    static func makeDemoDrivers(_ configuration: Configuration, clock: WallClock, http: OutboundHTTP) -> DemoDrivers {
        var drivers = DemoDrivers()
        if configuration.provisioner == .webhook, let url = configuration.provisionURL,
            let secret = configuration.provisionSecret
        {
            drivers.provisioner = WebhookProvisioner(url: url, secret: secret.value, http: http, clock: clock)
        }
        if let netbird = configuration.netbird {
            drivers.network = NetBirdPeerRevoker(apiURL: netbird.url, token: netbird.token.value, http: http)
        }
        if let token = configuration.zitadelServiceToken, let oidc = configuration.oidc, let project = oidc.projectID {
            drivers.identity = ZitadelRoleRevoker(issuer: oidc.issuer, projectID: project, token: token.value, http: http)
        }
        return drivers
    }

    /// The HTTP application, with the background services that run beside it for its lifetime.
    /// - Parameter accessLog: where each answered request is logged (`neosc serve`: a
    ///   `BufferedAccessLog`); by default an `info` line through `logger`'s handler.
    static func makeApplication(
        portal: Portal, configuration: Configuration, http: OutboundHTTP = .shared, logger: Logger,
        accessLog: any AccessLog = LoggerAccessLog()
    ) -> some ApplicationProtocol {
        let openFiles = OpenFileLimit.raiseToHardLimit() ?? 1_024
        let limits = configuration.connectionLimits(openFiles: openFiles)
        if limits.maximum < configuration.maxConnections {
            logger.warning(
                "NEOSC_MAX_CONNECTIONS lowered to fit the open-file limit",
                metadata: ["open_files": "\(openFiles)", "max_connections": "\(limits.maximum)"])
        }
        return Application(
            responder: PortalRouter.make(portal: portal, accessLog: accessLog).buildResponder(),
            server: .guardedHTTP1(limits, streams: portal.streamGateway),
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "NeoSC",
                availableConnectionsDelegate: .maximum(limits.maximum, logger: logger)),
            services: [
                ExpiredTokenSweeper(store: portal.store, interval: .seconds(3_600), clock: portal.clock, logger: logger),
                TokenRenewalService(
                    renewal: TokenRenewal(store: portal.store, tokenCache: portal.tokenCache, clock: portal.clock), logger: logger),
                InterruptedChangeRecovery(
                    store: portal.store, audit: portal.auditTrail,
                    interval: .milliseconds(Int(configuration.mongoChangeLease * 500)), logger: logger),
                LoginUnlockWatcher(signIn: portal.signIn, interval: .seconds(5), logger: logger),
                ExpiryService(portal: portal, logger: logger),
                ProviderWarmUp(federation: portal.federation, logger: logger),
                AuditCheckpointService(integrity: portal.auditIntegrity, heartbeat: .seconds(3_600), logger: logger),
                FoldedRefusalWriter(policies: portal.policies, interval: .seconds(10), logger: logger),
            ] + makeStreamReview(portal: portal, configuration: configuration, logger: logger)
                + makeAuditRetention(portal: portal, configuration: configuration, logger: logger)
                + makeAuditForwarding(portal: portal, configuration: configuration, http: http, logger: logger)
                + makeMetricsListener(portal: portal, configuration: configuration, logger: logger),
            onServerRunning: { channel in
                guard let file = configuration.portFile, let port = channel.localAddress?.port else { return }
                writePortFile(file, port: port, logger: logger)
            },
            logger: logger)
    }

    /// The review of running workspace streams, when streaming is on.
    static func makeStreamReview(portal: Portal, configuration: Configuration, logger: Logger) -> [any Service] {
        // Retention runs even with streaming off: recordings made before it was switched off expire too.
        let retention: [any Service] =
            portal.recordings.map {
                [RecordingRetentionService(recordings: $0, interval: .seconds(3_600), logger: logger)]
            } ?? []
        guard portal.streams.isEnabled else { return retention }
        return retention + [
            StreamReviewService(
                streams: portal.streams, interval: configuration.streamSettings.reviewInterval, logger: logger)
        ]
    }

    /// The configured SIEM targets (syslog, webhook).
    static func auditSinks(portal: Portal, configuration: Configuration, http: OutboundHTTP) -> [any AuditSink] {
        var sinks: [any AuditSink] = []
        if let syslog = configuration.auditSyslog { sinks.append(syslog) }
        if let webhook = configuration.auditWebhook {
            sinks.append(WebhookAuditSink(url: webhook.url, secret: webhook.secret, http: http, clock: portal.clock))
        }
        return sinks
    }

    /// A forwarder per configured SIEM target (syslog, webhook).
    static func makeAuditForwarding(
        portal: Portal, configuration: Configuration, http: OutboundHTTP, logger: Logger
    ) -> [any Service] {
        auditSinks(portal: portal, configuration: configuration, http: http).map { sink in
            AuditForwardingService(
                forwarder: AuditForwarder(store: portal.store, sink: sink, clock: portal.clock, logger: logger))
        }
    }

    /// The audit retention, when `NEOSC_AUDIT_RETENTION_DAYS` sets one.
    static func makeAuditRetention(portal: Portal, configuration: Configuration, logger: Logger) -> [any Service] {
        guard let days = configuration.auditRetentionDays else { return [] }
        return [
            AuditRetentionService(
                integrity: portal.auditIntegrity, audit: portal.auditTrail, store: portal.store,
                forwardingTargets: auditSinks(portal: portal, configuration: configuration, http: .shared).map(\.name),
                days: days, interval: .seconds(3_600), clock: portal.clock, logger: logger)
        ]
    }

    /// The `/metrics` listener, when `NEOSC_METRICS_PORT` asks for one. Behind Pomerium without
    /// one, `/metrics` on the API port is judged by the TCP peer, which is Pomerium itself: say so.
    static func makeMetricsListener(portal: Portal, configuration: Configuration, logger: Logger) -> [any Service] {
        guard let listener = configuration.metricsListener else {
            if configuration.authMode == .pomerium {
                logger.warning(
                    "/metrics is served on the API port, which Pomerium routes to: set NEOSC_METRICS_PORT to serve it on a port of its own")
            }
            return []
        }
        return [
            Application(
                router: PortalRouter.makeMetrics(portal: portal),
                configuration: .init(address: .hostname(listener.host, port: listener.port), serverName: "NeoSC"),
                onServerRunning: { _ in
                    logger.notice("metrics listening", metadata: ["address": "\(listener.host):\(listener.port)"])
                },
                logger: logger)
        ]
    }

    /// Writes the bound port to `path`, whole or not at all (a new file renamed into place), so a
    /// supervisor or test polling for it never reads a partial number.
    static func writePortFile(_ path: String, port: Int, logger: Logger) {
        let partial = path + ".partial"
        do {
            try Data("\(port)\n".utf8).write(to: URL(fileURLWithPath: partial))
            guard rename(partial, path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        } catch {
            logger.error("NEOSC_PORT_FILE could not be written", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }
}
