import ArgumentParser
import Domain
import Hummingbird
import Integrations
import Logging
import MongoStore
import NIOConcurrencyHelpers
import Net
import SQLiteStore
import ServiceLifecycle
import Services
import UnixSignals

/// `neosc serve` (the default): run the HTTP API until SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the NeoSC API (configured from the environment; see docs/configuration.md).")

    func run() async throws {
        let configuration = try Configuration.fromEnvironment()
        let logger = configuration.bootstrapLogging()
        let metrics = Wiring.MetricsBackend.process
        let store = try await Wiring.openStore(configuration, logger: logger, metrics: metrics.factory)
        let http = OutboundHTTP()
        let passwords = Wiring.makePasswordHasher(configuration)
        // The chain's head as the server stopped, signed before the store closes: on a graceful
        // stop `AuditCheckpointService` has signed it already (nothing is due then), but a stop
        // past its deadline (a request still being read) cancels that service with the store.
        let integrity = NIOLockedValueBox<AuditIntegrity?>(nil)
        // Started before the server and stopped after it, in reverse order (see ResourceService).
        let resources = [
            ResourceService("the store", logger: logger) {
                if let integrity = integrity.withLockedValue({ $0 }) {
                    await AuditCheckpointService.signHeadAtStop(integrity, last: true, logger: logger)
                }
                try await store.close()
            },
            ResourceService("the outbound HTTP client", logger: logger) { try await http.shutdown() },
            ResourceService("the password hashing threads", logger: logger) { try await passwords.shutdown() },
        ]
        // Access lines are written in batches, off the request path (docs/operations.md, Logs).
        let accessLog =
            configuration.logLevel <= .info
            ? BufferedAccessLog(format: configuration.logFormat == .json ? .json : .text) : nil
        let application: any Service
        do {
            let portal = try await Wiring.makePortal(
                store: store, passwords: passwords, configuration: configuration, http: http, metrics: metrics,
                logger: logger)
            integrity.withLockedValue { $0 = portal.auditIntegrity }
            if configuration.mongoURL != nil && configuration.auditSigningKey == nil {
                logger.warning(
                    "NEOSC_AUDIT_SIGNING_KEY is unset: this replica signs audit checkpoints with the key in its own data directory; give every replica the same key (or list theirs in NEOSC_AUDIT_TRUSTED_KEYS), or verification reports the others' checkpoints as untrusted"
                )
            }
            if let admin = configuration.bootstrapAdmin {
                let outcome = try await Wiring.whileUnavailable("creating the bootstrap administrator", logger: logger) {
                    try await portal.users.createAdministrator(
                        email: admin.email, password: admin.password, name: nil, by: .operator(via: "bootstrap"))
                }
                switch outcome {
                case .created(let user):
                    logger.notice("created bootstrap administrator", metadata: ["email": "\(user.email)"])
                case .alreadyExists:
                    logger.info("bootstrap administrator already exists; left unchanged")
                }
            }
            application = Wiring.makeApplication(
                portal: portal, configuration: configuration, http: http, logger: logger,
                accessLog: accessLog ?? LoggerAccessLog())
        } catch {
            for resource in resources.reversed() { try? await resource.close() }
            throw error
        }
        logger.notice(
            "NeoSC listening",
            metadata: [
                "address": "\(configuration.host):\(configuration.port)",
                "store": "\(configuration.mongoURL.map { MongoStore.redacted($0.value) } ?? configuration.databasePath)",
            ])
        // SIGTERM/SIGINT: stop accepting, let in-flight requests finish (every audit entry is
        // written before its response), cancel what is left after the deadline; then write the
        // last access lines and close the resources, newest first.
        let services: [any Service] = resources + (accessLog.map { [$0] } ?? []) + [application]
        var group = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = .milliseconds(Int(configuration.shutdownTimeout * 1_000))
        group.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: group).run()
        logger.notice("NeoSC stopped")
    }
}
