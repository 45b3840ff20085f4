import Foundation
import HTTPTypes
import Synchronization
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
import TestSupport
#endif

/// `neosc serve` as a separate process on a loopback port of its own choosing (`PORT=0`; it
/// writes the port to `NEOSC_PORT_FILE` once it listens), stopped with SIGTERM (SIGKILL after
/// 10 s) by `stop()`, which `withLiveServers` calls on every path.
final class LiveServer: Sendable {
    private let child: ChildProcess
    private let portFile: URL
    private let knownPort = Mutex(0)

    /// Starts `neosc serve` with `environment`.
    init(environment: [String: String]) throws {
        portFile = FileManager.default.temporaryDirectory.appendingPathComponent("neosc-port-\(UUID().uuidString)")
        child = try ChildProcess(
            "neosc", executable: CommandLineTests.executable, arguments: ["serve"],
            environment: environment.merging([
                "PORT": "0", "HOST": "127.0.0.1", "PATH": "/usr/bin:/bin", "NEOSC_PORT_FILE": portFile.path,
                // As the image sets it (Dockerfile): see there.
                "MONGOC_DISABLE_SHM": "1",
            ]) { $1 })
    }

    /// The port the server bound to (0 until it listens).
    var port: Int {
        knownPort.withLock { known in
            if known == 0, let text = try? String(contentsOf: portFile, encoding: .utf8) {
                known = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            }
            return known
        }
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// What the server has written to standard error so far.
    var log: String { child.errors }

    /// Waits until the server listens and `/health` answers 200 (a bound, not a wait: a debug build
    /// starting beside the whole suite on two cores has taken over 30 s).
    func waitUntilHealthy(within seconds: Double = 120) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1_000))
        while ContinuousClock.now < deadline {
            if port != 0, (try? await request(.get, "/health"))?.status == 200 { return }
            guard child.isRunning else { throw Failed(description: "neosc exited: \(log)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failed(description: "neosc did not become healthy within \(seconds) s: \(log)")
    }

    /// Sends SIGTERM and returns at once.
    func terminate() {
        child.terminate()
    }

    /// Sends SIGKILL (no shutdown, no flush) and returns at once.
    func kill() {
        child.kill()
    }

    /// The exit status once the process has ended, or nil if it is still running after `seconds`.
    func exitStatus(within seconds: Double) async throws -> Int32? {
        try await child.exitStatus(within: seconds)
    }

    /// SIGTERM, then SIGKILL if it has not stopped within 10 s; removes its files.
    func stop() async {
        await child.stop(grace: 10)
        child.removeFiles()
        try? FileManager.default.removeItem(at: portFile)
    }

    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    enum Method: String {
        case get = "GET"
        case post = "POST"
        case patch = "PATCH"
        case delete = "DELETE"
    }

    /// The same `Reply` as the in-process test client gives, from a real HTTP exchange.
    func request(_ method: Method, _ path: String, token: String? = nil, json: String? = nil) async throws -> Reply {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method.rawValue
        request.timeoutInterval = 20
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.httpBody = Data(json.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        var headers = HTTPFields()
        for case (let name as String, let value as String) in http?.allHeaderFields ?? [:] {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        return Reply(
            status: HTTPResponse.Status(code: http?.statusCode ?? 0), headers: headers,
            text: String(decoding: data, as: UTF8.self))
    }

    /// Logs in and returns the bearer token.
    func login(_ email: String, _ password: String) async throws -> String {
        let answer = try await request(.post, "/api/auth/login", json: body(["email": email, "password": password]))
        guard answer.status == 200, let token = answer["access_token"] as? String else {
            throw Failed(description: "login of \(email) answered \(answer.status)")
        }
        return token
    }
}

/// Runs `body` with live servers, stopping every one of them afterwards, even when `body` throws.
func withLiveServers(
    _ environments: [[String: String]], _ body: ([LiveServer]) async throws -> Void
) async throws {
    var servers: [LiveServer] = []
    do {
        for environment in environments { servers.append(try LiveServer(environment: environment)) }
        try await body(servers)
    } catch {
        for server in servers { await server.stop() }
        throw error
    }
    for server in servers { await server.stop() }
}
