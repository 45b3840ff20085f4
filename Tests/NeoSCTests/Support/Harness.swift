import Actors
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Integrations
import Logging
import NIOCore
import NIOPosix
import Net
import SQLiteStore
import Services
import TestSupport
import Testing

@testable import App

/// A NeoSC wired exactly as `neosc serve` wires it, on a fresh data directory of its own.
struct Harness {
    let directory: URL
    let configuration: Configuration
    let store: any Store
    let portal: Portal
    /// The clock NeoSC runs on here: what the harness makes in the store is dated by it.
    let clock: WallClock

    static let logger: Logger = {
        var logger = Logger(label: "neosc-tests")
        logger.logLevel = .critical
        return logger
    }()

    /// One hasher for the whole run: its decoy hash costs a bcrypt at creation. bcrypt at its
    /// cheapest: no test here is about the cost, and at the default cost the throttle tests'
    /// hashes would queue behind every other suite's on two cores.
    static let passwords: PasswordHasher = {
        var configuration = Configuration()
        configuration.bcryptCost = 4
        return Wiring.makePasswordHasher(configuration)
    }()
    static let password = "correct horse battery"
    /// The body of a `PUT /api/policies/pol-mfa-required` that makes the seeded policy apply at
    /// sign-in to every role but demo visitors.
    static let mfaRequiredAtSignIn =
        #"{"name":"Require MFA","kind":"mfa_required","enabled":true,"scope":{"roles":["admin","neosc","user"]},"settings":{"applies_to":"sign_in"}}"#
    /// `password` hashed once, so tests that need accounts but not logins skip bcrypt.
    static let passwordHash = HashOnce()

    /// A fresh data directory, removed when the test process exits if its test has not removed it.
    static func makeDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("neosc-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        ChildProcess.removeAtExit(url)
        return url
    }

    static func open(
        directory: URL = makeDirectory(), store kind: StoreKind = .embedded, mongoURL: String? = nil,
        clock: WallClock = .system, passwords: PasswordHasher = Harness.passwords, _ adjust: (inout Configuration) -> Void = { _ in }
    ) async throws -> Harness {
        var configuration = Configuration()
        configuration.dataDirectory = directory.path
        configuration.port = 0
        if kind.isMongo {
            // MongoDB's TTL monitor runs on the server's real clock and removes a sign-in challenge
            // an hour after its `expires_at`: a test clock more than an hour behind would lose what
            // it stores whenever the monitor's minutely pass fell in the test. Refused every time
            // instead of failing once in a while.
            guard clock.now() > Date() - 3_600 else { throw TestClockBehind(now: clock.now()) }
            configuration.mongoTimeout = TestMongo.timeout
            if let mongoURL {
                configuration.mongoURL = Secret(mongoURL)
            } else {
                configuration.mongoURL = Secret(try await kind.freshDatabaseURL())
            }
        }
        adjust(&configuration)
        let metrics = Wiring.MetricsBackend.makePrivate()
        let store = try await Wiring.openStore(configuration, logger: logger, metrics: metrics.factory)
        let portal = try await Wiring.makePortal(
            store: store, passwords: passwords, configuration: configuration, clock: clock, http: .shared,
            metrics: metrics, logger: logger)
        return Harness(directory: directory, configuration: configuration, store: store, portal: portal, clock: clock)
    }

    /// Runs `body` against a fresh NeoSC and closes it afterwards, even when `body` throws.
    static func run(
        _ setup: TestingSetup = .router, store kind: StoreKind = .embedded, clock: WallClock = .system,
        passwords: PasswordHasher = Harness.passwords, _ adjust: (inout Configuration) -> Void = { _ in },
        _ body: @Sendable (Harness, any TestClientProtocol) async throws -> Void
    ) async throws {
        let harness = try await open(store: kind, clock: clock, passwords: passwords, adjust)
        do {
            try await harness.serve(setup) { try await body(harness, $0) }
        } catch {
            try? await harness.close(removing: true)
            throw error
        }
        try await harness.close(removing: true)
    }

    func serve(
        _ setup: TestingSetup = .router, _ body: @Sendable (any TestClientProtocol) async throws -> Void
    )
        async throws
    {
        let application = Wiring.makeApplication(portal: portal, configuration: configuration, logger: Self.logger)
        try await application.test(setup) { client in try await body(client) }
    }

    func close(removing: Bool) async throws {
        try await store.close()
        if removing { try? FileManager.default.removeItem(at: directory) }
    }

    /// The value of a counter in this NeoSC's own metrics registry: the line that starts with
    /// `series` (`auth_failures_total{reason="wrong_issuer"}`), 0 when there is none.
    func metric(_ series: String) -> Int {
        let exposition = portal.settings.metricsExposition?() ?? ""
        let line = exposition.split(separator: "\n").first { $0.hasPrefix(series + " ") }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) } ?? 0
    }

    /// An account with `role` and a live bearer token for it, made straight in the store. A
    /// `demo-user` gets what such an account always has, an active demo (of `ws-secure-browser`,
    /// for an hour): without one it reaches nothing.
    @discardableResult
    func account(
        _ role: Role, email: String? = nil, organizationID: String? = nil, mfa: Bool = false
    ) async throws -> (user: User, token: String) {
        let now = clock.now()
        let user = User(
            id: Identifier.make("usr"), email: email ?? "\(role.rawValue)-\(UUID().uuidString.prefix(8))@example.com",
            name: "Test \(role.rawValue)", organizationID: organizationID, role: role, passwordHash: try await Self.passwordHash.value(),
            mfaEnabled: mfa, createdAt: now, updatedAt: now)
        try await store.insert(user, creating: nil)
        if role == .demoUser {
            let demo = DemoSession(
                id: Identifier.make("demo"), userID: user.id, workspaceID: "ws-secure-browser", workspaceType: "browser",
                contactEmail: nil, clientAddress: "127.0.0.1", createdAt: now, expiresAt: now + 3_600,
                maxExpiresAt: now + 7_200)
            try await store.insert(demo, limit: 10_000, perAddressLimit: 10_000)
        }
        let (token, digest) = BearerCredential.issue()
        try await store.insert(
            AccessToken(digest: digest, userID: user.id, issuedAt: now, expiresAt: now + 3_600, mfaVerified: false))
        return (user, token)
    }
}

/// A test ran a MongoDB store on a clock behind the real one (see `Harness.open`).
struct TestClockBehind: Error, CustomStringConvertible {
    let now: Date
    var description: String { "a MongoDB test's clock reads \(now), behind the real clock: start it at ManualClock.start or later" }
}

/// An HTTP response as a test sees it: status, headers and body text, decoded on demand.
struct Reply: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String

    var json: Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) }
    /// The body as a JSON object, for checking what a response must not carry; to read a
    /// response, decode it into its type (`decoded(_:)`, Support/Responses.swift).
    var object: [String: Any] { json as? [String: Any] ?? [:] }
    var detail: String? { object["detail"] as? String }
    subscript(key: String) -> Any? { object[key] }
}

extension TestClientProtocol {
    /// Sends a request with an optional bearer token and JSON body text.
    @discardableResult
    func send(
        _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, json: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil { headers[.contentType] = "application/json" }
        let response = try await execute(
            uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
        return Reply(status: response.status, headers: response.headers, text: String(buffer: response.body))
    }

    func sendBytes(_ method: HTTPRequest.Method, _ uri: String, token: String?, bytes: [UInt8]) async throws -> Reply {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        let response = try await execute(uri: uri, method: method, headers: headers, body: ByteBuffer(bytes: bytes))
        return Reply(status: response.status, headers: response.headers, text: String(buffer: response.body))
    }
}

/// JSON object text from a dictionary literal, for request bodies.
func body(_ object: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
}

/// Computes the shared test password hash on first use.
actor HashOnce {
    private var hash: String?

    func value() async throws -> String {
        if let hash { return hash }
        let computed = try await Harness.passwords.hash(Harness.password)
        hash = computed
        return computed
    }
}
