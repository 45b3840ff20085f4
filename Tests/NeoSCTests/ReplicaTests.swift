import Foundation
import HTTPTypes
import HummingbirdWSClient
import NIOWebSocket
import Synchronization
import TestSupport
import Testing

@testable import App

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Two `neosc serve` processes on one MongoDB behave as one service.
@Suite(.serialized) struct ReplicaTests {
    static let adminPassword = "replica admin password"

    static func environment(_ url: String) -> [String: String] {
        [
            // A generous timeout: SecantusDB is a Python server, and on two loaded cores a start-up
            // query can take seconds; the outage test below sets its own, short one.
            "MONGO_URL": url, "NEOSC_CACHE_TTL": "1s", "LOG_LEVEL": "warning", "MONGO_TIMEOUT": "15s",
            "NEOSC_ADMIN_EMAIL": "admin@replica.example", "NEOSC_ADMIN_PASSWORD": adminPassword,
            "NEOSC_DATA_DIR": Harness.makeDirectory().path,
        ]
    }

    @Test func twoReplicasBehaveAsOneService() async throws {
        let url = try await TestMongo.shared.freshDatabaseURL()
        try await withLiveServers([Self.environment(url), Self.environment(url)]) { servers in
            let (a, b) = (servers[0], servers[1])
            try await a.waitUntilHealthy()
            try await b.waitUntilHealthy()
            let admin = try await a.login("admin@replica.example", Self.adminPassword)
            #expect(try await b.request(.get, "/api/auth/me", token: admin).status == 200, "a token from A works on B")

            let registered = try await a.request(
                .post, "/api/auth/register",
                json: body(["email": "user@replica.example", "password": "user password 1", "name": "U"]))
            #expect(registered.status == 201)
            let signedIn = try registered.decoded(SignedInBody.self)
            let (userID, userToken) = (signedIn.user.id, signedIn.accessToken)
            #expect(try await b.request(.get, "/api/workspaces/ws-windows-rdp", token: userToken).status == 403)

            // A role change on A reaches B within NEOSC_CACHE_TTL (a second here). The checks below
            // wait up to `eventually`'s 30 s: on two loaded cores a second is not a deadline a test
            // can hold a replica to, but one that never reloads still fails.
            #expect(try await a.request(.patch, "/api/users/\(userID)", token: admin, json: #"{"role":"neosc"}"#).status == 200)
            #expect(
                try await eventually {
                    try await b.request(.get, "/api/workspaces/ws-windows-rdp", token: userToken).status == 200
                })

            // The catalogue changed through A reaches B's (cached) list within NEOSC_CACHE_TTL.
            #expect(try await b.request(.get, "/api/workspaces", token: admin).decoded([WorkspaceBody].self).count == 6)
            let created = try await a.request(
                .post, "/api/workspaces", token: admin, json: #"{"id":"ws-replica","name":"Replica","type":"linux","url":"/r"}"#)
            #expect(created.status == 201)
            #expect(
                try await eventually {
                    try await b.request(.get, "/api/workspaces", token: admin).decoded([WorkspaceBody].self).contains { $0.id == "ws-replica" }
                })

            // A session started on A is listed and can be disconnected on B.
            let launched = try await a.request(.post, "/api/workspaces/ws-linux-desktop/launch", token: userToken)
            #expect(launched.status == 201)
            let sessionID = try launched.decoded(LaunchBody.self).sessionID
            let listed = try await b.request(.get, "/api/sessions/active", token: admin).decoded([SessionBody].self)
            #expect(listed.contains { $0.id == sessionID })
            #expect(
                try await eventually {
                    let workspace = try await b.request(.get, "/api/workspaces/ws-linux-desktop", token: admin)
                    return try workspace.decoded(WorkspaceBody.self).activeSessions == 1
                })
            #expect(try await b.request(.post, "/api/sessions/\(sessionID)/disconnect", token: userToken).status == 200)
            #expect(try await a.request(.get, "/api/sessions/\(sessionID)", token: userToken).decoded(SessionBody.self).status == "disconnected")
            #expect(try await a.request(.post, "/api/sessions/\(sessionID)/disconnect", token: admin).status == 409)

            // The per-user limit holds under concurrent launches spread over both replicas.
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<12 {
                    let server = index.isMultiple(of: 2) ? a : b
                    group.addTask {
                        try await server.request(.post, "/api/workspaces/ws-secure-browser/launch", token: userToken).status.code
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 201 }.count == 3, "\(statuses)")
            #expect(statuses.filter { $0 == 409 }.count == 9)

            // A policy written through A applies on B within NEOSC_CACHE_TTL; switched off through B,
            // it stops applying on A.
            let officeOnly = body([
                "id": "pol-office", "name": "Office only", "kind": "address_allowlist", "scope": ["roles": ["neosc"]],
                "settings": ["cidrs": ["10.0.0.0/8"]],
            ])
            #expect(try await a.request(.post, "/api/policies", token: admin, json: officeOnly).status == 201)
            #expect(try await eventually { try await b.request(.get, "/api/workspaces", token: userToken).status == 403 })
            let refused = try await b.request(.get, "/api/workspaces", token: userToken)
            #expect(refused["policy"] as? String == "pol-office", "\(refused.text)")
            #expect(try await b.request(.get, "/api/workspaces", token: admin).status == 200, "administrators are out of its scope")
            #expect(try await b.request(.patch, "/api/policies/pol-office", token: admin, json: #"{"enabled":false}"#).status == 200)
            #expect(try await eventually { try await a.request(.get, "/api/workspaces", token: userToken).status == 200 })

            // A second factor enrolled through A is confirmed through B, and a code is accepted once
            // on the two replicas together.
            let enrolling = try await a.request(
                .post, "/api/auth/register",
                json: body(["email": "mfa@replica.example", "password": "mfa password 1", "name": "M"]))
            let enrollingToken = try #require(enrolling["access_token"] as? String, "\(enrolling.text)")
            let enrolled = try await a.request(.post, "/api/auth/mfa/totp/enroll", token: enrollingToken)
            let secret = try #require(enrolled["secret"] as? String, "\(enrolled.text)")
            let now = Date()
            let confirmed = try await b.request(
                .post, "/api/auth/mfa/totp/confirm", token: enrollingToken,
                json: body(["code": try SecondFactorTests.code(secret, at: now)]))
            #expect(confirmed.status == 200, "\(confirmed.text)")
            func challenge(on server: LiveServer) async throws -> String {
                let login = try await server.request(
                    .post, "/api/auth/login", json: body(["email": "mfa@replica.example", "password": "mfa password 1"]))
                return try #require(login["mfa_token"] as? String, "\(login.text)")
            }
            // The next step's code (one step either side is accepted), not yet spent by the
            // confirmation; or the current one's, if the login took this test past that step.
            let mfaToken = try await challenge(on: b)
            let next = try SecondFactorTests.code(secret, at: max(Date(), now + 30))
            let verified = try await a.request(.post, "/api/auth/mfa/verify", json: body(["mfa_token": mfaToken, "code": next]))
            #expect(verified.status == 200, "\(verified.text)")
            let verifiedToken = try #require(verified["access_token"] as? String)
            #expect(try await b.request(.get, "/api/auth/me", token: verifiedToken).status == 200)
            let replayed = try await b.request(
                .post, "/api/auth/mfa/verify", json: body(["mfa_token": try await challenge(on: a), "code": next]))
            #expect(replayed.status == 401, "a code spent on A is refused on B: \(replayed.text)")

            // A token revoked through B stops working on A within NEOSC_CACHE_TTL.
            let second = try await a.login("user@replica.example", "user password 1")
            #expect(try await a.request(.get, "/api/auth/me", token: second).status == 200)
            #expect(try await b.request(.post, "/api/auth/logout", token: second).status == 200)
            #expect(try await eventually { try await a.request(.get, "/api/auth/me", token: second).status == 401 })

            // Disabling the user on B locks them out of A too.
            #expect(try await a.request(.get, "/api/auth/me", token: userToken).status == 200)
            #expect(try await b.request(.patch, "/api/users/\(userID)", token: admin, json: #"{"disabled":true}"#).status == 200)
            #expect(try await eventually { try await a.request(.get, "/api/auth/me", token: userToken).status == 401 })
        }
    }

    @Test func waitsForTheDatabaseAtStartAndNeverLogsCredentials() async throws {
        let database = try SecantusServer()
        defer { database.remove() }
        // Nothing listens yet: NeoSC retries with backoff and says so (a short timeout, so the
        // first attempt gives up soon).
        var waiting = Self.environment("\(database.url)/neosc_start")
        waiting["MONGO_TIMEOUT"] = "2s"
        try await withLiveServers([waiting]) { servers in
            let server = servers[0]
            #expect(try await eventually { server.log.contains("MongoDB not reachable; retrying") })
            try await database.start()
            try await server.waitUntilHealthy()
        }
        // Credentials in MONGO_URL never reach the log.
        var environment = Self.environment("mongodb://neosc:s3cret-pass@127.0.0.1:\(try FreePort.pick())/neosc")
        environment["LOG_LEVEL"] = "debug"
        environment["MONGO_TIMEOUT"] = "2s"
        try await withLiveServers([environment]) { servers in
            let retried = try await eventually { servers[0].log.contains("MongoDB not reachable; retrying") }
            #expect(retried)
            #expect(servers[0].log.contains("mongodb://***@127.0.0.1"))
            #expect(!servers[0].log.contains("s3cret-pass"))
        }
    }

    /// Stream tickets are kept in the store (issue #17): one replica issues a ticket, the other
    /// opens the desktop's stream with it, and neither takes it a second time. Behind a balancer
    /// without sticky routing, the ticket request and the WebSocket reach different replicas.
    @Test func aStreamTicketIssuedByOneReplicaOpensTheStreamOnAnother() async throws {
        let desktop = try await TestDesktop.start()
        defer { Task { await desktop.stop() } }
        let url = try await TestMongo.shared.freshDatabaseURL()
        let streaming = ["NEOSC_STREAM_UPSTREAMS": "127.0.0.0/8"]
        try await withLiveServers([
            Self.environment(url).merging(streaming) { $1 }, Self.environment(url).merging(streaming) { $1 },
        ]) { servers in
            let (a, b) = (servers[0], servers[1])
            try await a.waitUntilHealthy()
            try await b.waitUntilHealthy()
            let admin = try await a.login("admin@replica.example", Self.adminPassword)
            let created = try await a.request(
                .post, "/api/workspaces", token: admin,
                json: body([
                    "id": "ws-streamed", "name": "Streamed", "type": "linux", "url": "/ws-streamed",
                    "stream_upstream": "vnc://127.0.0.1:\(desktop.port)",
                ]))
            #expect(created.status == 201, "\(created.text)")
            let launched = try await a.request(.post, "/api/workspaces/ws-streamed/launch", token: admin)
            #expect(launched.status == 201, "\(launched.text)")
            let sessionID = try #require(launched["session_id"] as? String)

            let issued = try await a.request(.post, "/api/sessions/\(sessionID)/stream-ticket", token: admin)
            #expect(issued.status == 201, "\(issued.text)")
            let ticket = try #require(issued["ticket"] as? String)
            let banner = Mutex<[UInt8]>([])
            var configuration = WebSocketClientConfiguration()
            configuration.closeTimeout = .seconds(30)
            let opened = try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(b.port)/streams/\(sessionID)?ticket=\(ticket)", configuration: configuration,
                logger: Harness.logger
            ) { inbound, _, _ in
                let bytes = try await FrameReader(inbound).read(12)
                banner.withLock { $0 = bytes }
            }
            #expect(String(decoding: banner.withLock { $0 }, as: UTF8.self).hasPrefix("RFB 003."), "B relayed A's ticket's desktop")
            #expect(opened?.closeCode == .normalClosure)

            // Read over a bare socket, as StreamTests reads refusals: the close arrives with the
            // upgrade's answer.
            for server in [a, b] {
                let replay = try await Viewer.refusal(port: server.port, sessionID: sessionID, ticket: ticket)
                #expect(replay.code == 1008, "a used ticket opens nothing, on either replica")
                #expect(replay.reason.contains("unknown or already used"))
            }
        }
    }
}

/// The database goes away mid-run and comes back.
@Suite(.serialized) struct DatabaseFaultTests {
    @Test func outageGives503sThenRecoversWithNoLostWrite() async throws {
        let database = try SecantusServer()
        defer { database.remove() }
        try await database.start()
        var environment = ReplicaTests.environment("\(database.url)/neosc_fault")
        environment["MONGO_TIMEOUT"] = "2s"
        try await withLiveServers([environment]) { servers in
            let server = servers[0]
            try await server.waitUntilHealthy()
            let admin = try await server.login("admin@replica.example", ReplicaTests.adminPassword)
            var acknowledged: [String] = []
            for index in 0..<5 {
                let created = try await server.request(
                    .post, "/api/organizations", token: admin, json: body(["name": "Before \(index)"]))
                #expect(created.status == 201)
                acknowledged.append(try created.decoded(OrganizationBody.self).id)  // an acknowledged write names what it made
            }

            await database.stop()
            // Each answered after the 2 s MongoDB timeout, well before the client's own 20 s
            // (which a request left hanging would meet); the bound leaves a loaded machine room.
            func timed(_ request: () async throws -> Reply) async throws -> Reply {
                let started = Date()
                let reply = try await request()
                #expect(Date().timeIntervalSince(started) < 15, "no request hangs past the timeout")
                return reply
            }
            let health = try await timed { try await server.request(.get, "/health") }
            #expect(health.status == 503)
            #expect(try health.decoded(HealthBody.self).status == "unhealthy")
            let write = try await timed { try await server.request(.post, "/api/organizations", token: admin, json: body(["name": "During"])) }
            #expect(write.status == 503)
            #expect(try write.decoded(ErrorBody.self).detail.isEmpty == false)
            let read = try await timed { try await server.request(.get, "/api/workspaces", token: admin) }
            #expect(read.status == 503)

            try await database.start()
            try await server.waitUntilHealthy()
            let organizations = try await server.request(.get, "/api/organizations", token: admin).decoded([OrganizationBody].self)
            let ids = Set(organizations.map(\.id))
            #expect(acknowledged.count == 5)
            #expect(ids.isSuperset(of: acknowledged), "every acknowledged write survived")
            #expect(try await server.request(.post, "/api/organizations", token: admin, json: body(["name": "After"])).status == 201)
        }
    }
}
