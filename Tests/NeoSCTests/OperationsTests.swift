import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Net
import Synchronization
import TestSupport
import Testing

@testable import App

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite struct ObservabilityTests {
    @Test func metricsOnlyForAllowedPeers() async throws {
        try await Harness.run(.live) { harness, client in
            let token = try await harness.account(.neosc).token
            _ = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: token)
            _ = try await client.send(.post, "/api/workspaces/ws-windows-rdp/launch", token: "neosc_nope")
            _ = try await client.send(.post, "/api/workspaces/ws-admin-panel/launch", token: token)
            let metrics = try await client.send(.get, "/metrics")
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
            for series in [
                #"http_requests_total{method="POST",route="/api/workspaces/{id}/launch",status="201"}"#,
                "http_request_duration_seconds_bucket", #"workspace_launches_total{result="success"}"#,
                #"workspace_launches_total{result="refused"}"#, "workspace_launch_duration_seconds_count",
                #"auth_failures_total{reason="invalid_token"}"#, "active_sessions",
                #"store_operation_duration_seconds_count{store="sqlite",operation="write"}"#,
            ] {
                #expect(metrics.text.contains(series), "exposes \(series)")
            }
            // Set by the expiry service once it has loaded the deadlines.
            let demos = try await eventually {
                try await client.send(.get, "/metrics").text.contains("demo_sessions_active")
            }
            #expect(demos, "exposes demo_sessions_active")
        }
        // Peers outside NEOSC_METRICS_ALLOW see nothing there.
        try await Harness.run(.live, { $0.metricsAllowed = TrustedProxies([AddressRange("10.0.0.0/8")!]) }) { _, client in
            let hidden = try await client.send(.get, "/metrics")
            #expect(hidden.status == .notFound)
            #expect(!hidden.text.contains("http_requests_total"))
        }
    }

    @Test("NEOSC_METRICS_PORT: /metrics on a listener of its own, and no longer on the API port")
    func metricsOnTheirOwnListener() async throws {
        let metricsPort = try FreePort.pick()
        try await withLiveServers([["NEOSC_METRICS_PORT": "\(metricsPort)", "NEOSC_DATA_DIR": Harness.makeDirectory().path]]) {
            servers in
            let server = servers[0]
            try await server.waitUntilHealthy()
            #expect(try await server.request(.get, "/metrics").status == .notFound, "the API port has no /metrics")
            let metrics = URL(string: "http://127.0.0.1:\(metricsPort)/metrics")!
            let (data, response) = try await URLSession.shared.data(from: metrics)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            // The API port counted its refusal; the metrics port counts nothing of its own.
            #expect(String(decoding: data, as: UTF8.self).contains(#"http_requests_total{method="GET",route="NotFound",status="404"} 1"#))
            // The metrics port serves nothing else.
            let (_, index) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(metricsPort)/api/")!)
            #expect((index as? HTTPURLResponse)?.statusCode == 404)
        }
    }

    @Test("request metrics: one series per method, route and status, counted on the handles kept for it; an unusual method counts as OTHER")
    func requestMetricsKeepTheirHandles() async throws {
        try await Harness.run(.live, { $0.benchmarkRoutes = true }) { _, client in
            for _ in 0..<3 { #expect(try await client.send(.get, "/bench/floor").status == .ok) }
            _ = try await client.send(HTTPRequest.Method("PURGE")!, "/bench/floor")
            let metrics = try await client.send(.get, "/metrics").text
            #expect(metrics.contains(#"http_requests_total{method="GET",route="/bench/floor",status="200"} 3"#), "\(metrics)")
            #expect(metrics.contains(#"method="OTHER""#))
            #expect(!metrics.contains("PURGE"), "a client cannot add a label value")
        }
    }

    /// Audit entries have a writer of their own, whose order is the declared one, fixed in code;
    /// the catalogue is its cached encoding with the live `active_sessions` appended.
    @Test("responses keep one key order: sorted, at every level")
    func responsesKeepOneKeyOrder() async throws {
        try await Harness.run { harness, client in
            let token = try await harness.account(.admin).token
            _ = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: token)
            for path in ["/api/auth/me", "/api/workspaces", "/api/users", "/api/sessions", "/api/policies", "/api/stats"] {
                let reply = try await client.send(.get, path, token: token)
                #expect(reply.status == .ok, "\(path)")
                for var keys in Self.objectKeys(reply.text) {
                    if path == "/api/workspaces" {
                        #expect(keys.last == "active_sessions", "\(keys)")
                        keys.removeLast()
                    }
                    #expect(keys == keys.sorted(), "\(path): \(keys)")
                }
            }
        }
    }

    /// The keys of every object in `json`, each object's in the order they appear.
    static func objectKeys(_ json: String) -> [[String]] {
        var objects: [[String]] = []
        var open: [Int?] = []  // per nesting level: the index in `objects` of an object, nil for an array
        var string = ""
        var inString = false
        var escaped = false
        var lastString: String?
        for character in json {
            if inString {
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    inString = false
                    lastString = string
                } else {
                    string.append(character)
                }
                continue
            }
            switch character {
            case "\"":
                inString = true
                string = ""
            case "{":
                objects.append([])
                open.append(objects.count - 1)
            case "[": open.append(nil)
            case "}", "]": _ = open.popLast()
            case ":": if let last = open.last, let index = last, let key = lastString { objects[index].append(key) }
            case ",": lastString = nil
            default: break
            }
        }
        return objects
    }

    @Test func accessLogDurationsHaveThreeDecimals() {
        #expect(AccessLogEntry.lasting(.nanoseconds(12_345_678)).milliseconds == "12.345")
        #expect(AccessLogEntry.lasting(.microseconds(5)).milliseconds == "0.005")
        #expect(AccessLogEntry.lasting(.microseconds(40)).milliseconds == "0.040")
        #expect(AccessLogEntry.lasting(.seconds(2)).milliseconds == "2000.000")
        #expect(AccessLogEntry.lasting(.zero).milliseconds == "0.000")
    }

    @Test func newRequestIDsAreUniqueAndShapedLikeUUIDs() {
        #expect(RequestIDs.format(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210) == "01234567-89ab-cdef-fedc-ba9876543210")
        #expect(RequestIDs.format(0, 1) == "00000000-0000-0000-0000-000000000001")
        let ids = (0..<1_000).map { _ in RequestIDs.next() }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { UUID(uuidString: $0) != nil && $0 == $0.lowercased() })
    }

    @Test func benchmarkFloorRouteOnlyWhenEnabled() async throws {
        try await Harness.run { _, client in
            let absent = try await client.send(.get, "/bench/floor")
            #expect(absent.status == .notFound)
        }
        try await Harness.run(.router, { $0.benchmarkRoutes = true }) { _, client in
            let floor = try await client.send(.get, "/bench/floor")
            #expect(floor.status == .ok)
            #expect(floor["ok"] as? Bool == true)
        }
    }

    @Test func requestIDsAreHonouredOrGenerated() async throws {
        try await Harness.run { _, client in
            let given = try await client.send(.get, "/health", headers: [.init("X-Request-ID")!: "trace-42.a_b"])
            #expect(given.headers[.init("X-Request-ID")!] == "trace-42.a_b")
            let generated = try await client.send(.get, "/api/auth/me")
            let id: String = try #require(generated.headers[HTTPField.Name("X-Request-ID")!])
            #expect(UUID(uuidString: id) != nil, "errors carry one too")
            let hostile = try await client.send(.get, "/health", headers: [.init("X-Request-ID")!: "a b\"<script>"])
            #expect(hostile.headers[.init("X-Request-ID")!] != "a b\"<script>")
        }
    }

    /// The JSON log line is written by hand: it must still be one JSON object with every value as
    /// given, whatever the text holds, keys sorted, and the time in UTC to the millisecond.
    @Test func jsonLogLinesAreJSONWhateverTheyHold() throws {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "neosc.test") { label in
            JSONLogHandler(label: label) { data in lines.withLock { $0.append(String(decoding: data, as: UTF8.self)) } }
        }
        logger[metadataKey: "request_id"] = "req-1"
        let hostile = "quote \" backslash \\ slash / line\nfeed\r\ttab \u{01}\u{1F} é 日本 🙂"
        logger.info(
            "message with \(hostile)",
            metadata: [
                "path": .string(hostile), "level": "overridden", "count": .stringConvertible(42),
                "list": .array(["a", .dictionary(["z": "1", "b": "2"])]),
            ])
        let line = try #require(lines.withLock { $0.first })
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1, "one line")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["path"] as? String == hostile)
        #expect(object["message"] as? String == "message with \(hostile)")
        #expect(object["level"] as? String == "info", "a line's own fields are not replaced by metadata")
        #expect(object["count"] as? String == "42")
        #expect(object["request_id"] as? String == "req-1")
        #expect(object["label"] as? String == "neosc.test")
        let list = try #require(object["list"] as? [Any])
        #expect(list.first as? String == "a" && (list.last as? [String: String]) == ["z": "1", "b": "2"])
        #expect(ObservabilityTests.objectKeys(line).allSatisfy { $0 == $0.sorted() }, "keys sorted")
        #expect(!line.contains("\\/"), "slashes as they are")
        #expect(JSONLogHandler.timestamp(Date(timeIntervalSince1970: 1_764_652_620.1239)) == "2025-12-02T05:17:00.123Z")
        #expect(JSONLogHandler.timestamp(Date(timeIntervalSince1970: 0.007)) == "1970-01-01T00:00:00.007Z")
    }

    @Test func jsonLogsCarryRequestIDsAndNeverSecrets() async throws {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "neosc") { label in
            JSONLogHandler(label: label) { data in lines.withLock { $0.append(String(decoding: data, as: UTF8.self)) } }
        }
        logger.logLevel = .trace
        let harness = try await Harness.open()
        let application = Wiring.makeApplication(portal: harness.portal, configuration: harness.configuration, logger: logger)
        let password = "Very Secret Passphrase 7"
        nonisolated(unsafe) var token = ""
        do {
            try await application.test(.router) { client in
                let registered = try await client.send(
                    .post, "/api/auth/register",
                    json: body(["email": "logs@example.com", "password": password, "name": "L"]),
                    headers: [.init("X-Request-ID")!: "req-logs-1"])
                token = try registered.decoded(SignedInBody.self).accessToken
                _ = try await client.send(.get, "/api/auth/me", token: token)
                _ = try await client.send(.get, "/api/auth/me?access_token=\(token)")
            }
        } catch {
            try? await harness.close(removing: true)
            throw error
        }
        try await harness.close(removing: true)

        let all = lines.withLock { $0 }
        #expect(!all.isEmpty)
        let objects = all.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(objects.count == all.count, "every line is one JSON object")
        #expect(objects.allSatisfy { $0["timestamp"] != nil && $0["level"] != nil && $0["message"] != nil })
        #expect(objects.contains { $0["request_id"] as? String == "req-logs-1" })
        let text = all.joined()
        #expect(!token.isEmpty)
        #expect(!text.contains(password), "passwords never reach the log")
        #expect(!text.contains(token), "tokens never reach the log, not even from a query string")
    }
}

@Suite(.serialized) struct LifecycleTests {
    @Test func healthcheckCommandReportsTheServer() async throws {
        try await withLiveServers([["NEOSC_DATA_DIR": Harness.makeDirectory().path, "LOG_LEVEL": "error"]]) { servers in
            try await servers[0].waitUntilHealthy()
            // Its 3 s default is for a container's probe; a loaded CI has taken longer to answer.
            let healthy = try await CommandLineTests.neosc(["healthcheck", "--timeout", "30"], environment: ["PORT": String(servers[0].port)])
            #expect(healthy.status == 0, "\(healthy.output)")
            await servers[0].stop()
            let down = try await CommandLineTests.neosc(["healthcheck", "--timeout", "1"], environment: ["PORT": String(servers[0].port)])
            #expect(down.status == 1)
            #expect(down.output.contains("unhealthy"))
        }
    }

    @Test func sigtermLetsInFlightRequestsFinish() async throws {
        // bcrypt cost 15 makes a login take seconds: long enough to be caught in flight. The
        // shutdown's deadline is far past what a loaded machine needs to finish the login, and
        // the exit must come well before it: a server that waited it out would fail.
        let environment = [
            "NEOSC_DATA_DIR": Harness.makeDirectory().path, "LOG_LEVEL": "error", "NEOSC_BCRYPT_COST": "15",
            "NEOSC_ADMIN_EMAIL": "slow@example.com", "NEOSC_ADMIN_PASSWORD": "slow login password", "NEOSC_SHUTDOWN_TIMEOUT": "120s",
        ]
        try await withLiveServers([environment]) { servers in
            let server = servers[0]
            try await server.waitUntilHealthy()
            let login = #"{"email":"slow@example.com","password":"slow login password"}"#
            let socket = try await LoopbackSocket(port: server.port, from: "127.0.0.77")
            socket.send(
                "POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(login.utf8.count)\r\n\r\n" + login)
            // In flight once the server has read it (a cost-15 check then takes seconds), not
            // after a guess at how long that takes.
            #expect(try await eventually { socket.isReadByServer(port: server.port) }, "the server read the login")
            server.terminate()
            let answer = String(decoding: await socket.read(within: .seconds(120)) { $0.last == UInt8(ascii: "}") }, as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.1 200"), "the in-flight login completed: \(answer)")
            #expect(answer.contains(#""access_token""#))
            #expect(await socket.isClosedByPeer(within: .seconds(60)), "the kept-alive connection is closed")
            let exit = try await server.exitStatus(within: 60)
            #expect(exit == 0, "exited cleanly, once the login was answered")
            #expect((try? await server.request(.get, "/health")) == nil, "no longer accepting")
        }
    }
}

@Suite struct DeploymentStackTests {
    static let root = LoopbackProcess.packageRoot

    @Test func composeStackIsValidAndIsolated() async throws {
        let checked = try await ChildProcess.run(
            "check-compose", executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: ["python3", Self.root.appendingPathComponent("infra/check_compose.py").path])
        let text = checked.output + checked.errors
        #expect(checked.status == 0, "\(text)")
        #expect(text.contains(" passed, 0 failed"))
    }

    @Test func dockerfileBuildsInStagesAndRunsUnprivileged() throws {
        let dockerfile = try String(contentsOf: Self.root.appendingPathComponent("Dockerfile"), encoding: .utf8)
        let stages = dockerfile.split(separator: "\n").filter { $0.hasPrefix("FROM ") }
        #expect(stages.count == 2, "a build stage and a runtime stage")
        #expect(dockerfile.contains("libmongoc-1.0-0"))
        #expect(dockerfile.contains("USER neosc"))
        #expect(dockerfile.contains(#"HEALTHCHECK"#) && dockerfile.contains(#"["neosc", "healthcheck"]"#))
    }
}
