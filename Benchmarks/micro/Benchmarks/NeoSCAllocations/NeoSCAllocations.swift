import Actors
import Benchmark
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Net
import Prometheus
import SQLiteStore
import Services
import Synchronization

/// Heap allocations per operation on NeoSC's hot paths (issue #16), held to the baseline
/// committed in `.benchmarkBaselines/NeoSCAllocations/main`: `Benchmarks/micro/allocations.sh`
/// fails when one of them allocates more than 10 % above it. Counts only: they repeat from run
/// to run and machine to machine, where times on two shared cores do not.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.mallocCountTotal], warmupIterations: 100, maxDuration: .seconds(2), maxIterations: 5_000,
        thresholds: [.mallocCountTotal: BenchmarkThresholds(relative: [.p50: 10, .p75: 10])])

    let now = Date()
    let user = User(
        id: "usr-bench", email: "bench@example.com", name: "Bench", organizationID: nil, role: .neosc, passwordHash: nil,
        createdAt: now, updatedAt: now)

    Benchmark("Token-cache hit (digest + lookup)") { benchmark in
        let cache = TokenCache(lifetime: 3_600)
        let (token, digest) = BearerCredential.issue()
        let identity = Identity(
            principal: Principal(
                userID: user.id, email: user.email, name: user.name, role: user.role, organizationID: nil, mfaVerified: false,
                credentialDigest: digest, credentialExpiresAt: now + 3_600),
            user: user, organization: nil)
        cache.remember(identity, ticket: cache.fillTicket())
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(cache.identity(forDigest: BearerCredential.digest(token)))
        }
    }

    // The router's whole answer to `GET /api/auth/me` with a cached bearer token and no policy
    // enabled: every middleware (request id, CORS, telemetry with Prometheus handles, errors,
    // client address, identity, policies), the route, and the body written out. What it leaves
    // out is the HTTP codec and the connection, which are Hummingbird's. The store, the portal
    // and the router are made once, before the samples, so each sample is one request in a
    // server that has warmed up.
    Benchmark(
        "Auth path: GET /api/auth/me, cached token, no policies",
        closure: { benchmark in
            guard let path = AuthPath.current.withLock({ $0 }) else { fatalError("no fixture: setup did not run") }
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try await path.answer())
            }
            benchmark.stopMeasurement()
        },
        setup: {
            let path = try await AuthPath.open(user: user, at: now)
            AuthPath.current.withLock { $0 = path }
        },
        teardown: {
            try await AuthPath.current.withLock { path in
                defer { path = nil }
                return path
            }?.close()
        })

    // A page of `GET /api/audit-logs?limit=100`: a hundred sealed entries written by the list's
    // own writer, into a buffer sized as the route sizes it.
    Benchmark("List encoding: 100 audit entries") { benchmark in
        let events = (0..<100).map { index in
            AuditEvent(
                id: "aud-\(index)", timestamp: now + Double(index), userID: user.id, userEmail: user.email,
                action: .launchWorkspace, resourceType: "workspace", resourceID: "ws-linux-desktop",
                details: ["session_id": "ses-\(index)", "launch_mode": "new_tab"], ipAddress: "192.0.2.1", success: true,
                seal: AuditSeal(seq: Int64(index + 1), prevHash: Array(repeating: 7, count: 32), hash: Array(repeating: 9, count: 32)))
        }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var buffer = ByteBuffer()
            buffer.reserveCapacity(events.count * 512)
            AuditEventWriter.writeArray(events, into: &buffer)
            blackHole(buffer)
        }
    }
}

/// A NeoSC router on an embedded store holding one account and its bearer token, which the
/// first request puts in the token cache.
struct AuthPath: Sendable {
    static let current = Mutex<AuthPath?>(nil)

    let directory: URL
    let store: SQLiteStore
    let responder: RouterResponder<PortalRequestContext>
    let head: HTTPRequest
    let logger: Logger

    static func open(user: User, at now: Date) async throws -> AuthPath {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("neosc-allocations-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try await SQLiteStore.open(
            path: directory.appendingPathComponent("neosc.sqlite").path, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: Logger(label: "allocations"))
        try await store.insert(user, creating: nil)
        let (token, digest) = BearerCredential.issue()
        try await store.insert(AccessToken(digest: digest, userID: user.id, issuedAt: now, expiresAt: now + 3_600, mfaVerified: false))
        let portal = try await makePortal(store: store)
        var fields = HTTPFields()
        fields[.authorization] = "Bearer " + token
        let path = AuthPath(
            directory: directory, store: store,
            responder: PortalRouter.make(portal: portal, accessLog: DiscardedAccessLog()).buildResponder(),
            head: HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: "/api/auth/me", headerFields: fields),
            logger: portal.logger)
        // Fills the token cache, and proves the path measured is the signed-in one, not a 401.
        let first = try await path.answer()
        guard first == .ok else { fatalError("GET /api/auth/me answered \(first), not 200") }
        return path
    }

    /// One request, answered and its body consumed, as a connection would.
    func answer() async throws -> HTTPResponse.Status {
        let context = PortalRequestContext(source: ApplicationRequestContextSource(channel: channel, logger: logger))
        let response = try await responder.respond(to: Request(head: head, body: RequestBody(buffer: ByteBuffer())), context: context)
        try await response.body.write(DiscardingBodyWriter())
        return response.status
    }

    func close() async throws {
        try await store.close()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// The channel every request context here names (the client address it gives is `unknown`).
private let channel = NIOAsyncTestingChannel()

/// A portal on `store` as `neosc serve` wires one, with Prometheus metrics and defaults elsewhere.
func makePortal(store: SQLiteStore) async throws -> Portal {
    let threadPool = NIOThreadPool(numberOfThreads: 1)
    threadPool.start()
    var logger = Logger(label: "neosc-allocations")
    logger.logLevel = .error
    let portal = Portal(
        store: store, tokenCache: TokenCache(lifetime: 3_600), sessions: SessionRegistry(),
        accountThrottle: AttemptThrottle(limit: 10), addressThrottle: AttemptThrottle(limit: 100),
        registrationThrottle: AttemptThrottle(limit: 20, window: 3_600),
        passwords: PasswordHasher(cost: 4, threadPool: threadPool), clock: .system,
        settings: PortalSettings(version: "benchmark"), logger: logger,
        metrics: PortalMetrics(factory: PrometheusMetricsFactory(registry: PrometheusCollectorRegistry())))
    try await portal.prepare()
    return portal
}

/// The access log left out: its cost is the load benchmark's (logging on and off in one run).
struct DiscardedAccessLog: AccessLog {
    func record(_ entry: AccessLogEntry, logger: Logger) {}
}

/// Consumes a response body as the connection would, keeping nothing.
struct DiscardingBodyWriter: ResponseBodyWriter {
    mutating func write(_ buffer: ByteBuffer) async throws { blackHole(buffer) }
    mutating func write(contentsOf buffers: some Sequence<ByteBuffer>) async throws {
        for buffer in buffers { blackHole(buffer) }
    }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
