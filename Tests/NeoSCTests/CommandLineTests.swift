import Actors
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Net
import SQLiteStore
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@testable import neosc

/// The `neosc` executable as an operator runs it: environment in, exit status and output out.
@Suite(.serialized) struct CommandLineTests {
    /// `neosc` is built next to the test bundle.
    static let executable: URL = {
        let testBinary = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        return testBinary.deletingLastPathComponent().appendingPathComponent("neosc")
    }()

    struct Outcome {
        var status: Int32
        var output: String
        var errors: String
    }

    static func neosc(_ arguments: [String], environment: [String: String], input: String? = nil) throws -> Outcome {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment.merging(["PATH": "/usr/bin:/bin"]) { $1 }
        let stdout = Pipe(), stderr = Pipe(), stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, output: String(decoding: output, as: UTF8.self),
            errors: String(decoding: errors, as: UTF8.self))
    }

    @Test func invalidConfigurationStopsWithOneLine() throws {
        let outcome = try Self.neosc(["serve"], environment: ["PORT": "abc", "NEOSC_DATA_DIR": Harness.makeDirectory().path])
        #expect(outcome.status == 2)
        let lines = outcome.errors.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains("PORT") == true)
    }

    @Test func adminAccountsFromTheCommandLine() throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = ["NEOSC_DATA_DIR": directory.path, "LOG_LEVEL": "error"]

        let created = try Self.neosc(
            ["admin", "create", "--email", "Ops@Example.com", "--password-stdin", "--name", "Ops"],
            environment: environment, input: "a long admin password\n")
        #expect(created.status == 0, "\(created.errors)")
        #expect(created.output.contains("created administrator ops@example.com"))
        #expect(!created.output.contains("a long admin password") && !created.errors.contains("a long admin password"))

        let again = try Self.neosc(
            ["admin", "create", "--email", "ops@example.com", "--password-stdin"], environment: environment, input: "another password\n")
        #expect(again.status != 0)
        #expect(again.errors.contains("already exists"))

        let noStdin = try Self.neosc(["admin", "create", "--email", "x@example.com"], environment: environment)
        #expect(noStdin.status != 0)

        let lastAdmin = try Self.neosc(["admin", "set-role", "--email", "ops@example.com", "--role", "user"], environment: environment)
        #expect(lastAdmin.status != 0)
        #expect(lastAdmin.errors.contains("last active administrator"))
        let badRole = try Self.neosc(["admin", "set-role", "--email", "ops@example.com", "--role", "root"], environment: environment)
        #expect(badRole.status != 0)

        let seeded = try Self.neosc(["seed", "--reset-workspaces"], environment: environment)
        #expect(seeded.status == 0, "\(seeded.errors)")
        #expect(seeded.output.contains("3 policies, 6 workspaces"))
    }

    @Test func changesMadeByTheCommandLineReachARunningServer() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = [
            "NEOSC_DATA_DIR": directory.path, "LOG_LEVEL": "error", "NEOSC_CACHE_TTL": "1s",
            "NEOSC_ADMIN_EMAIL": "cli@example.com", "NEOSC_ADMIN_PASSWORD": "cli admin password",
        ]
        try await withLiveServers([environment]) { servers in
            let server = servers[0]
            try await server.waitUntilHealthy()
            let admin = try await server.login("cli@example.com", "cli admin password")
            let created = try await server.request(
                .post, "/api/workspaces", token: admin, json: #"{"id":"ws-extra","name":"Extra","type":"linux","url":"/x"}"#)
            #expect(created.status == 201)
            #expect(try await server.request(.get, "/api/workspaces", token: admin).array.count == 7)

            // The CLI writes to the same data file while the server runs.
            let reset = try Self.neosc(["seed", "--reset-workspaces"], environment: environment)
            #expect(reset.status == 0, "\(reset.errors)")
            let followed = try await eventually(within: 5) {
                try await server.request(.get, "/api/workspaces", token: admin).array.count == 6
            }
            #expect(followed, "the server's catalogue follows within NEOSC_CACHE_TTL")
        }
    }

    @Test func serveBootstrapsAnAdminAndStopsCleanlyOnSIGTERM() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = try FreePort.pick()
        let process = Process()
        process.executableURL = Self.executable
        process.environment = [
            "PORT": String(port), "HOST": "127.0.0.1", "NEOSC_DATA_DIR": directory.path, "LOG_LEVEL": "warning",
            "NEOSC_ADMIN_EMAIL": "boot@example.com", "NEOSC_ADMIN_PASSWORD": "bootstrap password",
        ]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        let base = "http://127.0.0.1:\(port)"
        var healthy = false
        for _ in 0..<100 where !healthy {
            if let (_, response) = try? await URLSession.shared.data(from: URL(string: "\(base)/health")!),
                (response as? HTTPURLResponse)?.statusCode == 200
            {
                healthy = true
            } else {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(healthy, "neosc answered /health")

        var login = URLRequest(url: URL(string: "\(base)/api/auth/login")!)
        login.httpMethod = "POST"
        login.httpBody = Data(#"{"email":"boot@example.com","password":"bootstrap password"}"#.utf8)
        let (data, response) = try await URLSession.shared.data(for: login)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        #expect((object?["user"] as? [String: Any])?["role"] as? String == "admin")

        process.terminate()  // SIGTERM
        let deadline = Date(timeIntervalSinceNow: 10)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!process.isRunning, "stopped within 10 s of SIGTERM")
        #expect(process.terminationStatus == 0)
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(!log.contains("bootstrap password"), "the password never reaches the log")
    }
}

/// A loopback port that was free a moment ago.
enum FreePort {
    static func pick() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something accepts TCP connections on the loopback port.
    static func isListening(_ port: Int) -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
