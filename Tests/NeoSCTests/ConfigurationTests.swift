import Actors
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Integrations
import Net
import SQLiteStore
import Services
import Testing

@testable import App

@Suite struct ConfigurationTests {
    @Test func defaults() throws {
        let configuration = try Configuration(environment: [:])
        #expect(configuration.port == 8001)
        #expect(configuration.dataDirectory == "./data")
        #expect(configuration.tokenLifetime == 8 * 3_600)
        #expect(configuration.allowRegistration)
        #expect(configuration.maxSessionsPerUser == 3)
        #expect(configuration.bootstrapAdmin == nil)
        #expect(configuration.corsOrigins.isEmpty)
        #expect(configuration.streamUpstreams.isEmpty, "streaming is off unless upstreams are listed")
        let limits = configuration.connectionLimits(openFiles: 1_024)
        #expect(limits.maximum == 1_024 - Configuration.reservedDescriptors, "capped by the descriptors there are")
        #expect(configuration.connectionLimits(openFiles: 1_000_000).maximum == 10_000)
        #expect(limits.perAddress == 256)
        #expect(limits.headerTimeout == .seconds(10) && limits.idleTimeout == .seconds(60))
    }

    @Test func readsEveryVariable() throws {
        let configuration = try Configuration(environment: [
            "PORT": "9000", "HOST": "0.0.0.0", "NEOSC_DATA_DIR": "/var/lib/neosc", "NEOSC_TOKEN_TTL": "30m",
            "NEOSC_ALLOW_REGISTRATION": "false", "NEOSC_ADMIN_EMAIL": "Root@Example.com",
            "NEOSC_ADMIN_PASSWORD": "long enough", "NEOSC_TRUSTED_PROXIES": "10.0.0.0/8, ::1",
            "CORS_ORIGINS": "https://a.example, http://localhost:3000", "NEOSC_MAX_SESSIONS_PER_USER": "5",
            "NEOSC_CACHE_TTL": "90s", "NEOSC_BCRYPT_COST": "12", "NEOSC_BCRYPT_QUEUE": "16",
            "NEOSC_MAX_CONNECTIONS": "500", "NEOSC_MAX_CONNECTIONS_PER_ADDRESS": "0", "NEOSC_HEADER_TIMEOUT": "5s",
            "NEOSC_CONNECTION_IDLE_TIMEOUT": "2m", "NEOSC_STREAM_UPSTREAMS": "10.0.0.0/8, Desk.Lab.Example ,fd00::1",
        ])
        #expect(configuration.port == 9000)
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.tokenLifetime == 1_800)
        #expect(!configuration.allowRegistration)
        #expect(configuration.bootstrapAdmin?.email == "root@example.com")
        #expect(configuration.bootstrapAdmin?.password.value == "long enough")
        #expect("\(configuration.bootstrapAdmin!.password)" == "<redacted>")
        #expect(configuration.trustedProxies.isTrusted("10.9.9.9") && configuration.trustedProxies.isTrusted("::1"))
        #expect(configuration.corsOrigins == ["https://a.example", "http://localhost:3000"])
        #expect(configuration.maxSessionsPerUser == 5)
        #expect(configuration.cacheLifetime == 90)
        #expect(configuration.bcryptCost == 12)
        #expect(configuration.bcryptQueue == 16)
        let limits = configuration.connectionLimits(openFiles: 100_000)
        #expect(limits.maximum == 500 && limits.perAddress == 0)
        #expect(limits.exempt.isTrusted("10.1.2.3"), "trusted proxies carry many clients: no cap of their own")
        #expect(limits.headerTimeout == .seconds(5) && limits.idleTimeout == .seconds(120))
        #expect(configuration.streamUpstreams.hosts == ["desk.lab.example"])
        #expect(configuration.streamUpstreams.ranges.map(\.description) == ["10.0.0.0/8", "fd00::1"])
    }

    /// A PEM file of certificates is what NEOSC_STREAM_UPSTREAM_CA takes (StreamTests shows the
    /// trust it makes at work); a bad one is refused below.
    @Test func aStreamUpstreamCertificateFileIsAccepted() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let made = try await SelfSignedCertificate.make(in: directory, commonName: "desk.lab", subjectAltName: "DNS:desk.lab")
        _ = try Configuration(environment: ["NEOSC_STREAM_UPSTREAMS": "desk.lab", "NEOSC_STREAM_UPSTREAM_CA": made.certificate])
        #expect {
            try Configuration(environment: ["NEOSC_STREAM_UPSTREAMS": "desk.lab", "NEOSC_STREAM_UPSTREAM_CA": made.key])
        } throws: { error in
            "\(error)".hasPrefix("NEOSC_STREAM_UPSTREAM_CA must be a readable PEM file of certificates")
        }
    }

    /// A bad entry of NEOSC_STREAM_UPSTREAMS stops start-up naming the entry, not only the variable.
    @Test func aStreamUpstreamEntryThatIsNoAddressNorNameIsNamed() {
        #expect {
            try Configuration(environment: ["NEOSC_STREAM_UPSTREAMS": "10.0.0.0/8, desk.lab:5901"])
        } throws: { error in
            "\(error)" == "NEOSC_STREAM_UPSTREAMS entries must be addresses, CIDR blocks or host names, got 'desk.lab:5901'"
        }
    }

    /// Each invalid environment, and the variable its one-line error must name: the one at fault.
    static let invalidEnvironments: [([String: String], String)] = [
        (["NEOSC_AUDIT_SIGNING_KEY": "c2hvcnQ="], "NEOSC_AUDIT_SIGNING_KEY"),
        (["NEOSC_AUDIT_TRUSTED_KEYS": "not base64!"], "NEOSC_AUDIT_TRUSTED_KEYS"),
        (["NEOSC_AUDIT_RETENTION_DAYS": "0"], "NEOSC_AUDIT_RETENTION_DAYS"),
        (["NEOSC_AUDIT_SYSLOG": "udp://siem.example:514"], "NEOSC_AUDIT_SYSLOG"),
        (["NEOSC_AUDIT_SYSLOG": "tcp://siem.example"], "NEOSC_AUDIT_SYSLOG"),
        (["NEOSC_AUDIT_SYSLOG_CA": "/etc/ssl/ca.pem"], "NEOSC_AUDIT_SYSLOG"),
        (["NEOSC_AUDIT_WEBHOOK_URL": "https://siem.example/in"], "NEOSC_AUDIT_WEBHOOK_SECRET"),
        (
            ["NEOSC_AUDIT_WEBHOOK_URL": "http://siem.example/in", "NEOSC_AUDIT_WEBHOOK_SECRET": String(repeating: "s", count: 32)],
            "NEOSC_AUDIT_WEBHOOK_URL"
        ),
        (["NEOSC_AUDIT_WEBHOOK_URL": "https://siem.example/in", "NEOSC_AUDIT_WEBHOOK_SECRET": "short"], "NEOSC_AUDIT_WEBHOOK_SECRET"),
        (
            ["NEOSC_AUDIT_WEBHOOK_URL": "https://user:pw@siem.example/in", "NEOSC_AUDIT_WEBHOOK_SECRET": String(repeating: "s", count: 32)],
            "NEOSC_AUDIT_WEBHOOK_URL"
        ),
        (["NEOSC_AUDIT_RETENTION_DAYS": "90d"], "NEOSC_AUDIT_RETENTION_DAYS"),
        (["PORT": "eighty"], "PORT"),
        (["PORT": "70000"], "PORT"),
        (["NEOSC_TOKEN_TTL": "8 hours"], "NEOSC_TOKEN_TTL"),
        (["NEOSC_TOKEN_TTL": "0s"], "NEOSC_TOKEN_TTL"),
        (["NEOSC_TOKEN_TTL": "8d"], "NEOSC_TOKEN_TTL"),
        (["ZITADEL_ACTIONS_SIGNING_KEY": "a-key-long-enough-0123456789"], "ZITADEL_PROJECT_ID"),
        (["ZITADEL_ACTIONS_SIGNING_KEY": "short", "ZITADEL_PROJECT_ID": "p"], "ZITADEL_ACTIONS_SIGNING_KEY"),
        (["NEOSC_ALLOW_REGISTRATION": "maybe"], "NEOSC_ALLOW_REGISTRATION"),
        (["NEOSC_ADMIN_EMAIL": "a@example.com"], "NEOSC_ADMIN_PASSWORD"),
        (["NEOSC_ADMIN_EMAIL": "a@example.com", "NEOSC_ADMIN_PASSWORD": "short"], "NEOSC_ADMIN_PASSWORD"),
        (["NEOSC_TRUSTED_PROXIES": "10.0.0.0/99"], "NEOSC_TRUSTED_PROXIES"),
        (["NEOSC_STREAM_UPSTREAMS": "10.0.0.0/99"], "NEOSC_STREAM_UPSTREAMS"),
        (["NEOSC_STREAM_UPSTREAMS": "vnc://desk.lab"], "NEOSC_STREAM_UPSTREAMS"),
        (["NEOSC_STREAM_UPSTREAM_CA": "/etc/ssl/ca.pem"], "needs NEOSC_STREAM_UPSTREAMS"),
        (["NEOSC_STREAM_UPSTREAMS": "10.0.0.0/8", "NEOSC_STREAM_UPSTREAM_CA": "/nonexistent/ca.pem"], "NEOSC_STREAM_UPSTREAM_CA must be"),
        (["NEOSC_STREAM_UPSTREAMS": "10.0.0.0/8", "NEOSC_STREAM_UPSTREAM_CA": "/etc/passwd"], "NEOSC_STREAM_UPSTREAM_CA must be"),
        (["CORS_ORIGINS": "*"], "CORS_ORIGINS"),
        (["CORS_ORIGINS": "https://a.example/path"], "CORS_ORIGINS"),
        (["NEOSC_MAX_SESSIONS_PER_USER": "0"], "NEOSC_MAX_SESSIONS_PER_USER"),
        (["NEOSC_BCRYPT_COST": "4"], "NEOSC_BCRYPT_COST"),
        (["NEOSC_BCRYPT_QUEUE": "0"], "NEOSC_BCRYPT_QUEUE"),
        (["NEOSC_MAX_CONNECTIONS": "0"], "NEOSC_MAX_CONNECTIONS"),
        (["NEOSC_MAX_CONNECTIONS_PER_ADDRESS": "-1"], "NEOSC_MAX_CONNECTIONS_PER_ADDRESS"),
        (["NEOSC_HEADER_TIMEOUT": "forever"], "NEOSC_HEADER_TIMEOUT"),
        (["NEOSC_CONNECTION_IDLE_TIMEOUT": "0s"], "NEOSC_CONNECTION_IDLE_TIMEOUT"),
        (["LOG_LEVEL": "loud"], "LOG_LEVEL"),
        (["MONGO_URL": "http://db"], "MONGO_URL"),
        (["MONGO_POOL_SIZE": "0"], "MONGO_POOL_SIZE"),
        (["MONGO_TIMEOUT": "soon"], "MONGO_TIMEOUT"),
        (["LOG_FORMAT": "xml"], "LOG_FORMAT"),
        (["NEOSC_METRICS_ALLOW": "everyone"], "NEOSC_METRICS_ALLOW"),
        (["MONGO_URL_FILE": "/nonexistent/neosc-mongo-url"], "MONGO_URL_FILE"),
        (["MONGO_URL": "mongodb://db", "MONGO_URL_FILE": "/etc/hostname"], "MONGO_URL"),
        (["NEOSC_METRICS_PORT": "0"], "NEOSC_METRICS_PORT"),
        (["NEOSC_METRICS_PORT": "8001"], "NEOSC_METRICS_PORT"),
        (["NEOSC_METRICS_HOST": "0.0.0.0"], "NEOSC_METRICS_PORT"),
        (["NEOSC_SHUTDOWN_TIMEOUT": "-1s"], "NEOSC_SHUTDOWN_TIMEOUT"),
        (["NEOSC_BENCHMARK_ROUTES": "sometimes"], "NEOSC_BENCHMARK_ROUTES"),
        (["ZITADEL_AUTHORITY": "http://id.example.com", "ZITADEL_CLIENT_ID": "c"], "ZITADEL_AUTHORITY"),
        (["ZITADEL_AUTHORITY": "https://id.example.com"], "ZITADEL_CLIENT_ID"),
        (["ZITADEL_CLIENT_ID": "c"], "ZITADEL_AUTHORITY"),
        (["NEOSC_AUTH_MODE": "kerberos"], "NEOSC_AUTH_MODE"),
        (["NEOSC_AUTH_MODE": "pomerium", "POMERIUM_JWKS_URL": "https://a/jwks.json"], "POMERIUM_AUDIENCE"),
        (["NEOSC_AUTH_MODE": "pomerium", "POMERIUM_AUDIENCE": "neosc.example.com"], "POMERIUM_JWKS_URL"),
        (["NEOSC_AUTH_MODE": "pomerium", "POMERIUM_AUDIENCE": "a", "POMERIUM_JWKS_URL": "http://pomerium/jwks"], "POMERIUM_JWKS_URL"),
        (["TRUST_POMERIUM_HEADERS": "true"], "TRUST_POMERIUM_HEADERS"),
        (
            [
                "NEOSC_AUTH_MODE": "pomerium", "POMERIUM_AUDIENCE": "a", "POMERIUM_AUTHENTICATE_URL": "https://auth.example.com",
                "TRUST_POMERIUM_HEADERS": "true",
            ], "NEOSC_TRUSTED_PROXIES"
        ),
        (["NEOSC_JWKS_MIN_REFRESH": "often"], "NEOSC_JWKS_MIN_REFRESH"),
        (["NEOSC_DEMO_ENABLED": "perhaps"], "NEOSC_DEMO_ENABLED"),
        (["NEOSC_DEMO_TTL": "3h"], "NEOSC_DEMO_TTL"),
        (["NEOSC_DEMO_MAX_ACTIVE": "0"], "NEOSC_DEMO_MAX_ACTIVE"),
        (["NEOSC_IDLE_TIMEOUT": "never"], "NEOSC_IDLE_TIMEOUT"),
        (["NEOSC_PROVISIONER": "kasm"], "NEOSC_PROVISIONER"),
        (["NEOSC_PROVISIONER": "webhook"], "NEOSC_PROVISION_URL"),
        (
            ["NEOSC_PROVISIONER": "webhook", "NEOSC_PROVISION_URL": "https://p.example.com", "NEOSC_PROVISION_SECRET": "short"],
            "NEOSC_PROVISION_SECRET"
        ),
        (["NETBIRD_API_URL": "https://netbird.example.com"], "NETBIRD_API_TOKEN"),
        (["ZITADEL_SERVICE_TOKEN": "t"], "ZITADEL_PROJECT_ID"),
    ]

    @Test(arguments: invalidEnvironments)
    func invalidValuesAreRefusedWithTheVariableNamed(_ environment: [String: String], naming variable: String) {
        #expect {
            try Configuration(environment: environment)
        } throws: { error in
            let text = "\(error)"
            return !text.contains("\n") && text.contains(variable)
        }
    }

    @Test("the audit signing key: configured, else kept in the data directory (created once, private)")
    func auditSigningKey() throws {
        let key = AuditSigningKey()
        let other = AuditSigningKey()
        let configured = try Configuration(environment: [
            "NEOSC_AUDIT_SIGNING_KEY": key.base64, "NEOSC_AUDIT_TRUSTED_KEYS": Data(other.publicKey).base64EncodedString(),
            "NEOSC_AUDIT_RETENTION_DAYS": "365", "NEOSC_AUDIT_SYSLOG": "tls://siem.example:6514",
            "NEOSC_AUDIT_WEBHOOK_URL": "https://siem.example/in", "NEOSC_AUDIT_WEBHOOK_SECRET": String(repeating: "w", count: 32),
        ])
        #expect(configured.auditSyslog?.name == "syslog:tls://siem.example:6514")
        #expect(configured.auditWebhook?.url == "https://siem.example/in")
        #expect(try configured.loadAuditSigningKey().publicKey == key.publicKey)
        #expect(configured.auditTrustedKeys == [other.publicKey])
        #expect(configured.auditRetentionDays == 365)

        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let kept = try Configuration(environment: ["NEOSC_DATA_DIR": directory.path])
        #expect(try kept.existingAuditSigningKey() == nil)
        let created = try kept.loadAuditSigningKey()
        #expect(try kept.loadAuditSigningKey().publicKey == created.publicKey, "the same key at the next start")
        let attributes = try FileManager.default.attributesOfItem(atPath: kept.auditSigningKeyPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["audit-signing.key"], "no draft left behind")
    }

    @Test("secrets from files (NAME_FILE, Docker secrets): the content is the value, trailing line breaks dropped")
    func secretsFromFiles() throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let password = directory.appendingPathComponent("admin_password")
        try Data("a password from a file\r\n".utf8).write(to: password)
        let url = directory.appendingPathComponent("mongo_url")
        try Data("mongodb://neosc:p%40ss@mongo:27017/neosc".utf8).write(to: url)
        let configuration = try Configuration(environment: [
            "NEOSC_ADMIN_EMAIL": "root@example.com", "NEOSC_ADMIN_PASSWORD_FILE": password.path, "MONGO_URL_FILE": url.path,
        ])
        #expect(configuration.bootstrapAdmin?.password.value == "a password from a file")
        #expect(configuration.mongoURL?.value == "mongodb://neosc:p%40ss@mongo:27017/neosc")
        // An empty file is an unset value (the Actions key before Zitadel's target exists).
        let empty = directory.appendingPathComponent("actions_key")
        try Data().write(to: empty)
        #expect(try Configuration(environment: ["ZITADEL_ACTIONS_SIGNING_KEY_FILE": empty.path]).zitadelActionsSigningKey == nil)
    }

    @Test func identityProviders() throws {
        let configuration = try Configuration(environment: [
            "ZITADEL_AUTHORITY": "https://neosc.zitadel.cloud", "ZITADEL_CLIENT_ID": "2740@neosc",
            "ZITADEL_CLIENT_SECRET": "s3cret", "ZITADEL_PROJECT_ID": "2740", "NEOSC_PUBLIC_URL": "https://neosc.example.com/",
            "ZITADEL_REDIRECT_URIS": "https://portal.example.com/callback, http://localhost:5173/callback",
            "NEOSC_AUTH_MODE": "Pomerium", "POMERIUM_AUDIENCE": "neosc.example.com,api.neosc.example.com",
            "POMERIUM_AUTHENTICATE_URL": "https://authenticate.example.com/", "TRUST_POMERIUM_HEADERS": "true",
            "NEOSC_TRUSTED_PROXIES": "172.20.0.0/16", "NEOSC_JWKS_TTL": "10m", "NEOSC_JWKS_MIN_REFRESH": "5s",
        ])
        let oidc = try #require(configuration.oidc)
        #expect(oidc.issuer == "https://neosc.zitadel.cloud" && oidc.clientID == "2740@neosc")
        #expect(oidc.clientSecret == "s3cret" && oidc.projectID == "2740")
        #expect(oidc.callbackURL == "https://neosc.example.com/api/auth/oidc/callback")
        #expect(oidc.portalURL == nil, "unset: the flow ends on NeoSC's own portal")
        #expect(oidc.allowedRedirectURIs == ["https://portal.example.com/callback", "http://localhost:5173/callback"])
        #expect(configuration.authMode == .pomerium)
        let pomerium = try #require(configuration.pomerium)
        #expect(pomerium.jwksURL == "https://authenticate.example.com/.well-known/pomerium/jwks.json")
        #expect(pomerium.audiences == ["neosc.example.com", "api.neosc.example.com"])
        #expect(pomerium.issuers == pomerium.audiences, "POMERIUM_ISSUER defaults to the audiences")
        #expect(pomerium.trustIdentityHeaders && pomerium.projectID == "2740")
        #expect(configuration.keySetMaxAge == 600 && configuration.keyRefreshInterval == 5)
        #expect(try Configuration(environment: [:]).authMode == .local)
    }

    @Test func demoSettings() throws {
        let configuration = try Configuration(environment: [
            "NEOSC_DEMO_ENABLED": "true", "NEOSC_DEMO_TTL": "45m", "NEOSC_DEMO_MAX_DURATION": "3h",
            "NEOSC_DEMO_MAX_ACTIVE": "20", "NEOSC_DEMO_MAX_PER_IP": "2", "NEOSC_IDLE_TIMEOUT": "10m",
            "NEOSC_DEMO_RATE": "120", "NEOSC_DEMO_RATE_PER_IP": "4",
            "NEOSC_CLEANUP_ATTEMPTS": "7", "NEOSC_CLEANUP_RETRY_DELAY": "2s", "NEOSC_CLEANUP_LEASE": "90s",
            "NEOSC_EXPIRY_RESCAN": "15s", "NEOSC_PROVISIONER": "webhook", "NEOSC_PROVISION_URL": "https://p.example.com/hook",
            "NEOSC_PROVISION_SECRET": String(repeating: "s", count: 32), "NETBIRD_API_URL": "https://netbird.example.com",
            "NETBIRD_API_TOKEN": "nbp", "ZITADEL_AUTHORITY": "https://id.example.com", "ZITADEL_CLIENT_ID": "c",
            "ZITADEL_PROJECT_ID": "p", "ZITADEL_SERVICE_TOKEN": "svc",
        ])
        let demo = configuration.demo
        #expect(demo.enabled && demo.lifetime == 2_700 && demo.maxDuration == 10_800)
        #expect(demo.maxActive == 20 && demo.maxActivePerAddress == 2 && demo.idleTimeout == 600)
        #expect(demo.creationsPerHour == 120 && demo.creationsPerAddressPerHour == 4)
        #expect(demo.cleanupAttempts == 7 && demo.retryDelay == 2 && demo.claimLease == 90 && demo.rescanInterval == 15)
        #expect(configuration.provisioner == .webhook && configuration.provisionURL == "https://p.example.com/hook")
        #expect("\(configuration.provisionSecret!)" == "<redacted>")
        #expect(configuration.netbird?.url == "https://netbird.example.com")
        #expect(configuration.zitadelServiceToken?.value == "svc")
        let defaults = try Configuration(environment: [:]).demo
        #expect(!defaults.enabled && defaults.lifetime == 1_800 && defaults.idleTimeout == 900)
    }

    @Test func passwordNeverAppearsInTheMessage() {
        #expect {
            try Configuration(environment: ["NEOSC_ADMIN_EMAIL": "bad", "NEOSC_ADMIN_PASSWORD": "hunter2hunter2"])
        } throws: { error in
            !"\(error)".contains("hunter2")
        }
    }
}
