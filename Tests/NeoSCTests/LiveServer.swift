import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `neosc serve` as a separate process on a loopback port, stopped with SIGTERM (SIGKILL after
/// 10 s) by `stop()`, which every test calls on every path.
final class LiveServer: @unchecked Sendable {
    let port: Int
    private let process = Process()
    private let logFile: URL

    init(environment: [String: String]) throws {
        port = try FreePort.pick()
        logFile = SecantusServer.temporaryRoot.appendingPathComponent("neosc-\(port)-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        process.executableURL = CommandLineTests.executable
        process.environment = environment.merging(
            ["PORT": String(port), "HOST": "127.0.0.1", "PATH": "/usr/bin:/bin"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: logFile)
        try process.run()
    }

    var base: String { "http://127.0.0.1:\(port)" }

    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Waits until `/health` answers 200.
    func waitUntilHealthy(within seconds: Double = 30) async throws {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            if (try? await request(.get, "/health"))?.status == 200 { return }
            guard process.isRunning else { throw Failed(description: "neosc exited: \(log)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failed(description: "neosc did not become healthy within \(seconds) s: \(log)")
    }

    /// Sends SIGTERM and returns at once.
    func terminate() {
        if process.isRunning { process.terminate() }
    }

    /// The exit status once the process has ended, or nil if it is still running after `seconds`.
    func exitStatus(within seconds: Double) async throws -> Int32? {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        return process.isRunning ? nil : process.terminationStatus
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date(timeIntervalSinceNow: 10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: logFile)
    }

    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    struct Answer {
        var status: Int
        var body: Any?
        var object: [String: Any] { body as? [String: Any] ?? [:] }
        var array: [[String: Any]] { body as? [[String: Any]] ?? [] }
        subscript(key: String) -> Any? { object[key] }
    }

    enum Method: String { case get = "GET", post = "POST", patch = "PATCH", delete = "DELETE" }

    func request(_ method: Method, _ path: String, token: String? = nil, json: String? = nil) async throws -> Answer {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method.rawValue
        request.timeoutInterval = 20
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.httpBody = Data(json.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return Answer(
            status: (response as? HTTPURLResponse)?.statusCode ?? 0,
            body: try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]))
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
    defer { servers.forEach { $0.stop() } }
    for environment in environments { servers.append(try LiveServer(environment: environment)) }
    try await body(servers)
}

/// Polls `condition` until it holds or `seconds` pass; returns whether it held.
func eventually(within seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = Date(timeIntervalSinceNow: seconds)
    repeat {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(100))
    } while Date() < deadline
    return try await condition()
}
