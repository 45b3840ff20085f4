import Domain
import Foundation
import Integrations
import Logging
import NIOSSL
import Net
import Services

/// Everything `neosc serve` reads from its environment, parsed and validated once at start-up.
/// Any invalid value stops the process with a one-line reason naming the variable.
struct Configuration: Sendable {
    var host = "127.0.0.1"
    var port = 8001
    /// Where to write the port once the server listens (useful with `PORT=0`); nil: nowhere.
    var portFile: String?
    var dataDirectory = "./data"
    var corsOrigins: [String] = []
    var tokenLifetime: TimeInterval = 8 * 3_600
    var allowRegistration = true
    var bootstrapAdmin: (email: String, password: Secret)?
    var trustedProxies = TrustedProxies()
    /// The upstreams a workspace's stream may come from (`NEOSC_STREAM_UPSTREAMS`: addresses, CIDR
    /// blocks, host names matched exactly); empty: streaming is off.
    var streamUpstreams = StreamUpstreamAllowlist()
    /// How streams are relayed: timeouts, frame size, ticket lifetime (set in code and tests).
    var streamSettings = StreamSettings()
    /// `NEOSC_PUBLIC_URL` without its trailing slash.
    var publicURL: String?
    /// Where Debian's `novnc` package put noVNC (`NEOSC_NOVNC_DIR`).
    var noVNCDirectory = "/usr/share/novnc"
    var maxSessionsPerUser = 3
    var bcryptCost: UInt8 = 10
    /// Password hashes in flight (running or waiting) before new sign-ins get 503.
    var bcryptQueue = 64
    var cacheLifetime: TimeInterval = 5
    var logLevel: Logger.Level = .info
    /// MongoDB connection string; nil keeps the embedded store.
    var mongoURL: Secret?
    var mongoPoolSize = 10
    var mongoTimeout: TimeInterval = 5
    /// On a standalone MongoDB, how long a change may run before it counts as abandoned.
    var mongoChangeLease: TimeInterval = 60
    enum LogFormat: String { case text, json }
    var logFormat = LogFormat.text
    /// Peers allowed to read `/metrics`.
    var metricsAllowed = TrustedProxies([AddressRange("127.0.0.0/8")!, AddressRange("::1")!])
    /// A listener of its own for `/metrics` (`NEOSC_METRICS_PORT`, on `NEOSC_METRICS_HOST`, default
    /// `HOST`), which the API port then no longer serves; nil: `/metrics` on the API port.
    var metricsListener: (host: String, port: Int)?
    /// How long in-flight requests may take to finish after SIGTERM before they are cancelled.
    var shutdownTimeout: TimeInterval = 20
    /// Serve the benchmark floor route (`Benchmarks/load`); never in production.
    var benchmarkRoutes = false
    /// The portal's cookies are `Secure` and `__Host-` prefixed: `NEOSC_PUBLIC_URL` is https.
    var secureCookies = false
    /// Connections in all and per client address, header-read, body-read and idle timeouts
    /// (`NEOSC_MAX_CONNECTIONS*`, `NEOSC_HEADER_TIMEOUT`, `NEOSC_BODY_TIMEOUT`,
    /// `NEOSC_CONNECTION_IDLE_TIMEOUT`).
    var maxConnections = 10_000
    var maxConnectionsPerAddress = 256
    var headerTimeout: TimeInterval = 10
    var bodyTimeout: TimeInterval = 60
    var connectionIdleTimeout: TimeInterval = 60
    /// `local`: NeoSC bearer tokens. `pomerium`: every API request carries Pomerium's assertion.
    enum AuthMode: String { case local, pomerium }
    var authMode = AuthMode.local
    /// Sign-in through an OpenID provider (Zitadel); nil when `ZITADEL_AUTHORITY` is unset.
    var oidc: OIDCSettings?
    /// Set in `pomerium` mode.
    var pomerium: PomeriumSettings?
    /// How long a fetched JWKS is used before it is fetched again.
    var keySetMaxAge: TimeInterval = 300
    /// The least time between two fetches of a JWKS prompted by an unknown `kid`.
    var keyRefreshInterval: TimeInterval = 30
    /// Demo sessions, idle timeout and clean-up (`NEOSC_DEMO_*`, `NEOSC_IDLE_TIMEOUT`, ...).
    var demo = DemoSettings()
    enum ProvisionerKind: String { case none, webhook }
    var provisioner = ProvisionerKind.none
    var provisionURL: String?
    var provisionSecret: Secret?
    var netbird: (url: String, token: Secret)?
    var zitadelServiceToken: Secret?
    /// The signing key of the Zitadel Actions v2 target that asks NeoSC for token claims, and
    /// NeoSC's project there, whose grants alone count.
    var zitadelActionsSigningKey: Secret?
    var zitadelProjectID: String?
    /// The key that signs audit checkpoints (`NEOSC_AUDIT_SIGNING_KEY`); nil: the one kept in the
    /// data directory, created on first start.
    var auditSigningKey: AuditSigningKey?
    /// Public keys whose checkpoints verify besides this server's own (`NEOSC_AUDIT_TRUSTED_KEYS`):
    /// a previous key, other replicas' keys.
    var auditTrustedKeys: [[UInt8]] = []
    /// Audit entries older than this many days are removed (`NEOSC_AUDIT_RETENTION_DAYS`); nil: kept.
    var auditRetentionDays: Int?
    /// Forward the audit trail to syslog (`NEOSC_AUDIT_SYSLOG`: tcp:// or tls://host:port, with
    /// `NEOSC_AUDIT_SYSLOG_CA` for a private CA).
    var auditSyslog: SyslogAuditSink?
    /// Forward the audit trail to a webhook (`NEOSC_AUDIT_WEBHOOK_URL`, signed with
    /// `NEOSC_AUDIT_WEBHOOK_SECRET`).
    var auditWebhook: (url: String, secret: Secret)?

    static let version = "0.1.0"

    var databasePath: String { (dataDirectory as NSString).appendingPathComponent("neosc.sqlite") }

    func portalSettings(metricsExposition: (@Sendable () -> String)? = nil) -> PortalSettings {
        var settings = PortalSettings(
            version: Self.version, tokenLifetime: tokenLifetime, allowRegistration: allowRegistration,
            maxSessionsPerUser: maxSessionsPerUser, corsOrigins: corsOrigins, trustedProxies: trustedProxies,
            metricsAllowed: metricsAllowed, metricsExposition: metricsExposition)
        settings.benchmarkRoutes = benchmarkRoutes
        settings.secureCookies = secureCookies
        settings.publicURL = publicURL
        settings.streams = streamSettings
        settings.noVNCDirectory = noVNCDirectory
        settings.metricsOnOwnListener = metricsListener != nil
        if let key = zitadelActionsSigningKey, let project = zitadelProjectID {
            settings.zitadelActions = (key, project)
        }
        return settings
    }

    /// The connection limits, with at most `openFiles` connections in all (the rest of the
    /// process's descriptors stay for the store, outbound HTTP and logs).
    func connectionLimits(openFiles: Int) -> ConnectionLimits {
        ConnectionLimits(
            maximum: min(maxConnections, max(openFiles - Self.reservedDescriptors, 1)),
            perAddress: maxConnectionsPerAddress, exempt: trustedProxies,
            headerTimeout: .milliseconds(Int64(headerTimeout * 1_000)),
            bodyTimeout: .milliseconds(Int64(bodyTimeout * 1_000)),
            idleTimeout: .milliseconds(Int64(connectionIdleTimeout * 1_000)))
    }

    /// Descriptors kept back from client connections.
    static let reservedDescriptors = 256

    /// Comma-separated addresses or CIDR blocks.
    private static func ranges(_ text: String, variable: String) throws(Invalid) -> TrustedProxies {
        var ranges: [AddressRange] = []
        for entry in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            guard let range = AddressRange(entry) else {
                throw Invalid(description: "\(variable) entries must be addresses or CIDR blocks, got '\(entry)'")
            }
            ranges.append(range)
        }
        return TrustedProxies(ranges)
    }

    /// `NEOSC_STREAM_UPSTREAM_CA`: a PEM file of the certificates `wss://` upstreams must chain to.
    private static func upstreamTrust(_ file: String) throws(Invalid) -> UpstreamTrust {
        guard let certificates = try? NIOSSLCertificate.fromPEMFile(file), !certificates.isEmpty else {
            throw Invalid(description: "NEOSC_STREAM_UPSTREAM_CA must be a readable PEM file of certificates, got '\(file)'")
        }
        do {
            return try UpstreamTrust(certificates: certificates)
        } catch {
            throw Invalid(description: "NEOSC_STREAM_UPSTREAM_CA could not be used for TLS (\(error)), got '\(file)'")
        }
    }

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    init() {}

    /// The settings that hold secrets. Each may instead name a file holding it (`NAME_FILE`, for
    /// Docker secrets under /run/secrets/), so the secret is not in the process environment.
    static let secretVariables = [
        "NEOSC_ADMIN_PASSWORD", "MONGO_URL", "ZITADEL_CLIENT_SECRET", "ZITADEL_SERVICE_TOKEN",
        "ZITADEL_ACTIONS_SIGNING_KEY", "NEOSC_PROVISION_SECRET", "NETBIRD_API_TOKEN", "NEOSC_AUDIT_SIGNING_KEY",
        "NEOSC_AUDIT_WEBHOOK_SECRET",
    ]

    /// `environment` with each `NAME_FILE` of `secretVariables` replaced by the file's content as
    /// `NAME` (trailing line breaks dropped: editors and `echo` add them).
    static func readingSecretFiles(_ environment: [String: String]) throws(Invalid) -> [String: String] {
        var environment = environment
        for name in secretVariables {
            guard let path = environment[name + "_FILE"], !path.isEmpty else { continue }
            guard environment[name]?.isEmpty ?? true else {
                throw Invalid(description: "\(name) and \(name)_FILE are both set; set one")
            }
            // A bounded read: a FIFO or a device named by mistake cannot make start-up read forever.
            let unreadable = Invalid(description: "\(name)_FILE must name a readable UTF-8 file of at most 64 KiB, got '\(path)'")
            guard let file = FileHandle(forReadingAtPath: path) else { throw unreadable }
            defer { try? file.close() }
            // An empty file reads as nil: an empty value, which is the same as not setting it.
            guard let data = try? file.read(upToCount: 65_537) ?? Data(), data.count <= 65_536,
                let content = String(data: data, encoding: .utf8)
            else { throw unreadable }
            environment[name] = String(content.reversed().drop { $0.isNewline }.reversed())
        }
        return environment
    }

    init(environment: [String: String]) throws(Invalid) {
        let environment = try Self.readingSecretFiles(environment)
        func value(_ name: String) -> String? {
            guard let raw = environment[name]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }
        func integer(_ name: String, in range: ClosedRange<Int>) throws(Invalid) -> Int? {
            guard let raw = value(name) else { return nil }
            guard let number = Int(raw), range.contains(number) else {
                throw Invalid(description: "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), got '\(raw)'")
            }
            return number
        }
        func duration(_ name: String) throws(Invalid) -> TimeInterval? {
            guard let raw = value(name) else { return nil }
            guard let seconds = TimeSpan.seconds(parsing: raw) else {
                throw Invalid(description: "\(name) must be a duration such as 90s, 30m or 8h, got '\(raw)'")
            }
            return seconds
        }
        func flag(_ name: String) throws(Invalid) -> Bool? {
            guard let raw = value(name) else { return nil }
            switch raw.lowercased() {
            case "true", "1", "yes", "on": return true
            case "false", "0", "no", "off": return false
            default: throw Invalid(description: "\(name) must be true or false, got '\(raw)'")
            }
        }

        if let host = value("HOST") { self.host = host }
        if let port = try integer("PORT", in: 0...65_535) { self.port = port }
        if let file = value("NEOSC_PORT_FILE") { portFile = file }
        if let directory = value("NEOSC_DATA_DIR") { self.dataDirectory = directory }
        if let origins = value("CORS_ORIGINS") {
            corsOrigins = origins.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
            for origin in corsOrigins {
                guard origin != "*", let url = URL(string: origin), let scheme = url.scheme,
                    ["http", "https"].contains(scheme), url.host != nil, url.path.isEmpty
                else {
                    throw Invalid(description: "CORS_ORIGINS entries must be origins such as https://portal.example.com, got '\(origin)'")
                }
            }
        }
        if let lifetime = try duration("NEOSC_TOKEN_TTL") {
            // A bearer token is revocable but, once leaked, good until then: no more than a week.
            guard lifetime <= 7 * 86_400 else {
                throw Invalid(description: "NEOSC_TOKEN_TTL must be at most 7d, got '\(value("NEOSC_TOKEN_TTL") ?? "")'")
            }
            tokenLifetime = lifetime
        }
        if let allow = try flag("NEOSC_ALLOW_REGISTRATION") { allowRegistration = allow }
        switch (value("NEOSC_ADMIN_EMAIL"), environment["NEOSC_ADMIN_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }) {
        case (nil, nil):
            break
        case (let email?, let password?):
            do {
                bootstrapAdmin = (try Validation.normalisedEmail(email), Secret(password))
                try Validation.requireValidPassword(password)
            } catch {
                throw Invalid(description: "NEOSC_ADMIN_EMAIL/NEOSC_ADMIN_PASSWORD: \(error.detail)")
            }
        default:
            throw Invalid(description: "NEOSC_ADMIN_EMAIL and NEOSC_ADMIN_PASSWORD must be set together")
        }
        if let proxies = value("NEOSC_TRUSTED_PROXIES") {
            trustedProxies = try Self.ranges(proxies, variable: "NEOSC_TRUSTED_PROXIES")
        }
        if let upstreams = value("NEOSC_STREAM_UPSTREAMS") {
            switch StreamUpstreamAllowlist.parse(upstreams) {
            case .success(let allowlist):
                streamUpstreams = allowlist
            case .failure(let invalid):
                throw Invalid(
                    description: "NEOSC_STREAM_UPSTREAMS entries must be addresses, CIDR blocks or host names, got '\(invalid.entry)'")
            }
        }
        if let file = value("NEOSC_STREAM_UPSTREAM_CA") {
            guard !streamUpstreams.isEmpty else {
                throw Invalid(description: "NEOSC_STREAM_UPSTREAM_CA needs NEOSC_STREAM_UPSTREAMS")
            }
            streamSettings.upstreamTrust = try Self.upstreamTrust(file)
        }
        if let limit = try integer("NEOSC_MAX_SESSIONS_PER_USER", in: 1...1_000) { maxSessionsPerUser = limit }
        if let cost = try integer("NEOSC_BCRYPT_COST", in: Int(PasswordHasher.minimumCost)...16) { bcryptCost = UInt8(cost) }
        if let queue = try integer("NEOSC_BCRYPT_QUEUE", in: 1...100_000) { bcryptQueue = queue }
        if let lifetime = try duration("NEOSC_CACHE_TTL") { cacheLifetime = lifetime }
        if let url = value("MONGO_URL") {
            guard url.hasPrefix("mongodb://") || url.hasPrefix("mongodb+srv://") else {
                throw Invalid(description: "MONGO_URL must start with mongodb:// or mongodb+srv://")
            }
            mongoURL = Secret(url)
        }
        if let size = try integer("MONGO_POOL_SIZE", in: 1...200) { mongoPoolSize = size }
        if let timeout = try duration("MONGO_TIMEOUT") { mongoTimeout = timeout }
        if let lease = try duration("MONGO_CHANGE_LEASE") {
            guard (2...3_600).contains(lease) else {
                throw Invalid(description: "MONGO_CHANGE_LEASE must be between 2s and 1h, got '\(value("MONGO_CHANGE_LEASE") ?? "")'")
            }
            mongoChangeLease = lease
        }
        if let format = value("LOG_FORMAT") {
            guard let parsed = LogFormat(rawValue: format.lowercased()) else {
                throw Invalid(description: "LOG_FORMAT must be text or json, got '\(format)'")
            }
            logFormat = parsed
        }
        if let allowed = value("NEOSC_METRICS_ALLOW") {
            metricsAllowed = try Self.ranges(allowed, variable: "NEOSC_METRICS_ALLOW")
        }
        if let metricsPort = try integer("NEOSC_METRICS_PORT", in: 1...65_535) {
            let metricsHost = value("NEOSC_METRICS_HOST") ?? host
            guard metricsPort != port || metricsHost != host else {
                throw Invalid(description: "NEOSC_METRICS_PORT must differ from PORT, got \(metricsPort) for both")
            }
            metricsListener = (metricsHost, metricsPort)
        } else if value("NEOSC_METRICS_HOST") != nil {
            throw Invalid(description: "NEOSC_METRICS_HOST needs NEOSC_METRICS_PORT")
        }
        if let timeout = try duration("NEOSC_SHUTDOWN_TIMEOUT") { shutdownTimeout = timeout }
        if let enabled = try flag("NEOSC_BENCHMARK_ROUTES") { benchmarkRoutes = enabled }
        secureCookies = value("NEOSC_PUBLIC_URL")?.lowercased().hasPrefix("https://") ?? false
        if let limit = try integer("NEOSC_MAX_CONNECTIONS", in: 1...1_000_000) { maxConnections = limit }
        if let limit = try integer("NEOSC_MAX_CONNECTIONS_PER_ADDRESS", in: 0...1_000_000) {
            maxConnectionsPerAddress = limit
        }
        if let timeout = try duration("NEOSC_HEADER_TIMEOUT") { headerTimeout = timeout }
        if let timeout = try duration("NEOSC_BODY_TIMEOUT") { bodyTimeout = timeout }
        if let timeout = try duration("NEOSC_CONNECTION_IDLE_TIMEOUT") { connectionIdleTimeout = timeout }
        try readIdentityProviders(value: value, flag: flag, duration: duration)
        try readDemoSettings(value: value, flag: flag, duration: duration, integer: integer)
        if let level = value("LOG_LEVEL") {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw Invalid(description: "LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical")
            }
            logLevel = parsed
        }
    }
}

extension Configuration {
    /// `ZITADEL_*`, `NEOSC_AUTH_MODE`, `POMERIUM_*` and `TRUST_POMERIUM_HEADERS`.
    fileprivate mutating func readIdentityProviders(
        value: (String) -> String?, flag: (String) throws(Invalid) -> Bool?,
        duration: (String) throws(Invalid) -> TimeInterval?
    ) throws(Invalid) {
        func list(_ name: String) -> [String] {
            (value(name) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        func secureURL(_ name: String) throws(Invalid) -> String? {
            guard let url = value(name) else { return nil }
            guard SecureURL.isAcceptable(url) else {
                throw Invalid(description: "\(name) must be an https:// URL (http:// only for localhost), got '\(url)'")
            }
            return url
        }
        if let directory = value("NEOSC_NOVNC_DIR") { noVNCDirectory = directory }
        publicURL = try secureURL("NEOSC_PUBLIC_URL").map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        if let maxAge = try duration("NEOSC_JWKS_TTL") { keySetMaxAge = maxAge }
        if let interval = try duration("NEOSC_JWKS_MIN_REFRESH") { keyRefreshInterval = interval }

        if let issuer = try secureURL("ZITADEL_AUTHORITY") {
            guard let clientID = value("ZITADEL_CLIENT_ID") else {
                throw Invalid(description: "ZITADEL_CLIENT_ID must be set with ZITADEL_AUTHORITY")
            }
            let publicURL = try secureURL("NEOSC_PUBLIC_URL").map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
            oidc = OIDCSettings(
                issuer: issuer, clientID: clientID, clientSecret: value("ZITADEL_CLIENT_SECRET"),
                projectID: value("ZITADEL_PROJECT_ID"), allowedRedirectURIs: list("ZITADEL_REDIRECT_URIS"),
                callbackURL: publicURL.map { $0 + "/api/auth/oidc/callback" },
                portalURL: try secureURL("NEOSC_PORTAL_URL"))
        } else if value("ZITADEL_CLIENT_ID") != nil {
            throw Invalid(description: "ZITADEL_AUTHORITY must be set with ZITADEL_CLIENT_ID")
        }

        if let mode = value("NEOSC_AUTH_MODE") {
            guard let parsed = AuthMode(rawValue: mode.lowercased()) else {
                throw Invalid(description: "NEOSC_AUTH_MODE must be local or pomerium, got '\(mode)'")
            }
            authMode = parsed
        }
        let trustHeaders = try flag("TRUST_POMERIUM_HEADERS") ?? false
        guard authMode == .pomerium else {
            if trustHeaders { throw Invalid(description: "TRUST_POMERIUM_HEADERS needs NEOSC_AUTH_MODE=pomerium") }
            return
        }
        let audiences = list("POMERIUM_AUDIENCE")
        guard !audiences.isEmpty else {
            throw Invalid(description: "POMERIUM_AUDIENCE (the route hosts, comma-separated) must be set with NEOSC_AUTH_MODE=pomerium")
        }
        let jwksURL: String
        let authenticateURL = try secureURL("POMERIUM_AUTHENTICATE_URL").map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        if let url = try secureURL("POMERIUM_JWKS_URL") {
            jwksURL = url
        } else if let authenticate = try secureURL("POMERIUM_AUTHENTICATE_URL") {
            jwksURL =
                (authenticate.hasSuffix("/") ? String(authenticate.dropLast()) : authenticate)
                + "/.well-known/pomerium/jwks.json"
        } else {
            throw Invalid(description: "POMERIUM_JWKS_URL or POMERIUM_AUTHENTICATE_URL must be set with NEOSC_AUTH_MODE=pomerium")
        }
        if trustHeaders, trustedProxies.ranges.isEmpty {
            throw Invalid(description: "TRUST_POMERIUM_HEADERS needs NEOSC_TRUSTED_PROXIES (the Pomerium proxy's address)")
        }
        pomerium = PomeriumSettings(
            jwksURL: jwksURL, audiences: audiences, issuers: list("POMERIUM_ISSUER"), trustIdentityHeaders: trustHeaders,
            projectID: value("ZITADEL_PROJECT_ID"),
            signOutURL: try secureURL("POMERIUM_SIGNOUT_URL") ?? authenticateURL.map { $0 + "/.pomerium/sign_out" })
    }
}

extension Configuration {
    /// `NEOSC_DEMO_*`, `NEOSC_IDLE_TIMEOUT`, the clean-up knobs and the provisioning drivers.
    fileprivate mutating func readDemoSettings(
        value: (String) -> String?, flag: (String) throws(Invalid) -> Bool?,
        duration: (String) throws(Invalid) -> TimeInterval?,
        integer: (String, ClosedRange<Int>) throws(Invalid) -> Int?
    ) throws(Invalid) {
        if let enabled = try flag("NEOSC_DEMO_ENABLED") { demo.enabled = enabled }
        if let ttl = try duration("NEOSC_DEMO_TTL") { demo.lifetime = ttl }
        if let longest = try duration("NEOSC_DEMO_MAX_DURATION") { demo.maxDuration = longest }
        guard demo.maxDuration >= demo.lifetime else {
            throw Invalid(description: "NEOSC_DEMO_MAX_DURATION must be at least NEOSC_DEMO_TTL")
        }
        if let limit = try integer("NEOSC_DEMO_MAX_ACTIVE", 1...100_000) { demo.maxActive = limit }
        if let limit = try integer("NEOSC_DEMO_MAX_PER_IP", 1...1_000) { demo.maxActivePerAddress = limit }
        if let limit = try integer("NEOSC_DEMO_RATE", 1...1_000_000) { demo.creationsPerHour = limit }
        if let limit = try integer("NEOSC_DEMO_RATE_PER_IP", 1...10_000) { demo.creationsPerAddressPerHour = limit }
        if let idle = try duration("NEOSC_IDLE_TIMEOUT") { demo.idleTimeout = idle }
        if let attempts = try integer("NEOSC_CLEANUP_ATTEMPTS", 1...20) { demo.cleanupAttempts = attempts }
        if let delay = try duration("NEOSC_CLEANUP_RETRY_DELAY") { demo.retryDelay = delay }
        if let lease = try duration("NEOSC_CLEANUP_LEASE") { demo.claimLease = lease }
        if let rescan = try duration("NEOSC_EXPIRY_RESCAN") { demo.rescanInterval = rescan }

        if let kind = value("NEOSC_PROVISIONER") {
            guard let parsed = ProvisionerKind(rawValue: kind.lowercased()) else {
                throw Invalid(description: "NEOSC_PROVISIONER must be none or webhook, got '\(kind)'")
            }
            provisioner = parsed
        }
        if provisioner == .webhook {
            guard let url = value("NEOSC_PROVISION_URL"), let scheme = URL(string: url)?.scheme, ["http", "https"].contains(scheme) else {
                throw Invalid(description: "NEOSC_PROVISION_URL must be an http(s) URL with NEOSC_PROVISIONER=webhook")
            }
            guard let secret = value("NEOSC_PROVISION_SECRET"), secret.utf8.count >= 32 else {
                throw Invalid(description: "NEOSC_PROVISION_SECRET must be at least 32 characters with NEOSC_PROVISIONER=webhook")
            }
            provisionURL = url
            provisionSecret = Secret(secret)
        }
        switch (value("NETBIRD_API_URL"), value("NETBIRD_API_TOKEN")) {
        case (nil, nil): break
        case (let url?, let token?):
            guard SecureURL.isAcceptable(url) else {
                throw Invalid(description: "NETBIRD_API_URL must be an https:// URL (http:// only for localhost)")
            }
            netbird = (url, Secret(token))
        default: throw Invalid(description: "NETBIRD_API_URL and NETBIRD_API_TOKEN must be set together")
        }
        if let key = value("ZITADEL_ACTIONS_SIGNING_KEY") {
            guard key.utf8.count >= 16 else {
                throw Invalid(description: "ZITADEL_ACTIONS_SIGNING_KEY must be the signing key Zitadel returned for the target")
            }
            // Only the grants on NeoSC's own project may become NeoSC roles.
            guard let project = value("ZITADEL_PROJECT_ID") else {
                throw Invalid(description: "ZITADEL_ACTIONS_SIGNING_KEY needs ZITADEL_PROJECT_ID (NeoSC's project in Zitadel)")
            }
            zitadelActionsSigningKey = Secret(key)
            zitadelProjectID = project
        }
        if let token = value("ZITADEL_SERVICE_TOKEN") {
            guard oidc != nil, oidc?.projectID != nil else {
                throw Invalid(description: "ZITADEL_SERVICE_TOKEN needs ZITADEL_AUTHORITY and ZITADEL_PROJECT_ID")
            }
            zitadelServiceToken = Secret(token)
        }
        if let key = value("NEOSC_AUDIT_SIGNING_KEY") {
            do {
                auditSigningKey = try AuditSigningKey(base64: key)
            } catch {
                throw Invalid(description: "NEOSC_AUDIT_SIGNING_KEY must be the base64 of 32 random bytes (an Ed25519 private key)")
            }
        }
        if let url = value("NEOSC_AUDIT_SYSLOG") {
            do {
                auditSyslog = try SyslogAuditSink(url: url, caFile: value("NEOSC_AUDIT_SYSLOG_CA"))
            } catch {
                throw Invalid(
                    description:
                        "NEOSC_AUDIT_SYSLOG must be tcp://host:port or tls://host:port (with a readable NEOSC_AUDIT_SYSLOG_CA, if set), got '\(url)'")
            }
        } else if value("NEOSC_AUDIT_SYSLOG_CA") != nil {
            throw Invalid(description: "NEOSC_AUDIT_SYSLOG_CA needs NEOSC_AUDIT_SYSLOG")
        }
        switch (value("NEOSC_AUDIT_WEBHOOK_URL"), value("NEOSC_AUDIT_WEBHOOK_SECRET")) {
        case (nil, nil): break
        case (let url?, let secret?):
            guard SecureURL.isAcceptable(url), URLComponents(string: url)?.user == nil else {
                throw Invalid(
                    description: "NEOSC_AUDIT_WEBHOOK_URL must be an https:// URL (http:// only for localhost) without credentials in it")
            }
            guard secret.utf8.count >= 32 else {
                throw Invalid(description: "NEOSC_AUDIT_WEBHOOK_SECRET must be at least 32 bytes")
            }
            auditWebhook = (url, Secret(secret))
        default: throw Invalid(description: "NEOSC_AUDIT_WEBHOOK_URL and NEOSC_AUDIT_WEBHOOK_SECRET must be set together")
        }
        if let raw = value("NEOSC_AUDIT_RETENTION_DAYS") {
            guard let days = Int(raw), (1...36_500).contains(days) else {
                throw Invalid(description: "NEOSC_AUDIT_RETENTION_DAYS must be a whole number of days from 1 to 36500, got '\(raw)'")
            }
            auditRetentionDays = days
        }
        let trustedKeys = (value("NEOSC_AUDIT_TRUSTED_KEYS") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for entry in trustedKeys {
            do {
                auditTrustedKeys.append(try AuditSigningKey.publicKey(base64: entry))
            } catch {
                throw Invalid(description: "NEOSC_AUDIT_TRUSTED_KEYS entries must be base64 Ed25519 public keys (32 bytes), got '\(entry)'")
            }
        }
    }

    /// Where the data directory keeps the audit signing key when `NEOSC_AUDIT_SIGNING_KEY` is unset.
    var auditSigningKeyPath: String { (dataDirectory as NSString).appendingPathComponent("audit-signing.key") }

    /// The configured audit signing key, else the data directory's; nil when there is neither.
    func existingAuditSigningKey() throws -> AuditSigningKey? {
        if let auditSigningKey { return auditSigningKey }
        guard let text = try? String(contentsOfFile: auditSigningKeyPath, encoding: .utf8) else { return nil }
        do {
            return try AuditSigningKey(base64: text)
        } catch {
            throw Invalid(description: "\(auditSigningKeyPath) does not hold an audit signing key (base64 of 32 bytes)")
        }
    }

    /// The audit signing key: the configured one, else the one in the data directory, created
    /// (readable by this user only) when there is none yet.
    func loadAuditSigningKey() throws -> AuditSigningKey {
        if let existing = try existingAuditSigningKey() { return existing }
        let path = auditSigningKeyPath
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        // Written whole to a file of its own, then linked into place: link(2) fails when the key
        // exists, so of two processes starting at once one key wins and both use it.
        let key = AuditSigningKey()
        let draft = path + ".\(UUID().uuidString).new"
        let descriptor = open(draft, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            throw Invalid(description: "cannot create the audit signing key at \(path): \(String(cString: strerror(errno)))")
        }
        defer { unlink(draft) }
        let text = Array((key.base64 + "\n").utf8)
        let written = write(descriptor, text, text.count) == text.count && fsync(descriptor) == 0
        close(descriptor)
        guard written else {
            throw Invalid(description: "cannot write the audit signing key at \(path): \(String(cString: strerror(errno)))")
        }
        if link(draft, path) != 0 {
            guard errno == EEXIST, let text = try? String(contentsOfFile: path, encoding: .utf8),
                let existing = try? AuditSigningKey(base64: text)
            else {
                throw Invalid(description: "cannot store the audit signing key at \(path): \(String(cString: strerror(errno)))")
            }
            return existing
        }
        return key
    }
}
