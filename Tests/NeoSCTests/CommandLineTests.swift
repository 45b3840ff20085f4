import Actors
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOPosix
import Net
import SQLiteNIO
import SQLiteStore
import Services
import TestSupport
import Testing

@testable import App

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The `neosc` executable as an operator runs it: environment in, exit status and output out.
@Suite(.serialized) struct CommandLineTests {
    /// `neosc` is built next to the test bundle.
    static let executable: URL = {
        let testBinary = URL(
            fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        return testBinary.deletingLastPathComponent().appendingPathComponent("neosc")
    }()

    struct Outcome {
        var status: Int32
        var output: String
        var errors: String
    }

    static func neosc(_ arguments: [String], environment: [String: String], input: String? = nil) async throws -> Outcome {
        let outcome = try await ChildProcess.run(
            "neosc-cli", executable: executable, arguments: arguments,
            environment: environment.merging(["PATH": "/usr/bin:/bin", "MONGOC_DISABLE_SHM": "1"]) { $1 }, input: input ?? "")
        return Outcome(status: outcome.status, output: outcome.output, errors: outcome.errors)
    }

    /// The suite's own child processes (ChildProcess, spawned with posix_spawn) get standard
    /// input, output and error and nothing else of the test process: no socket or file of another
    /// test leaks into them.
    @Test func childrenInheritOnlyTheStandardStreams() async throws {
        let listed = try await ChildProcess.run("fd-list", executable: URL(fileURLWithPath: "/bin/ls"), arguments: ["/proc/self/fd"])
        #expect(listed.status == 0, "\(listed.errors)")
        // 0, 1 and 2, and the descriptor ls opened to read the directory.
        #expect(Set(listed.output.split(separator: "\n")) == ["0", "1", "2", "3"], "\(listed.output)")
        let echoed = try await ChildProcess.run("cat", executable: URL(fileURLWithPath: "/bin/cat"), input: "through stdin\n")
        #expect(echoed.output == "through stdin\n")
        let failed = try await ChildProcess.run("false", executable: URL(fileURLWithPath: "/bin/false"))
        #expect(failed.status == 1)
    }

    @Test func invalidConfigurationStopsWithOneLine() async throws {
        let outcome = try await Self.neosc(["serve"], environment: ["PORT": "abc", "NEOSC_DATA_DIR": Harness.makeDirectory().path])
        #expect(outcome.status == 2)
        let lines = outcome.errors.split(separator: "\n")
        #expect(lines.count == 1, "\(outcome.errors)")
        #expect(lines.first?.contains("PORT") == true)
    }

    @Test func adminAccountsFromTheCommandLine() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = ["NEOSC_DATA_DIR": directory.path, "LOG_LEVEL": "error"]

        let created = try await Self.neosc(
            ["admin", "create", "--email", "Ops@Example.com", "--password-stdin", "--name", "Ops"],
            environment: environment, input: "a long admin password\n")
        #expect(created.status == 0, "\(created.errors)")
        #expect(created.output.contains("created administrator ops@example.com"))
        #expect(!created.output.contains("a long admin password") && !created.errors.contains("a long admin password"))

        let again = try await Self.neosc(
            ["admin", "create", "--email", "ops@example.com", "--password-stdin"], environment: environment, input: "another password\n")
        #expect(again.status != 0)
        #expect(again.errors.contains("already exists"))

        let noStdin = try await Self.neosc(["admin", "create", "--email", "x@example.com"], environment: environment)
        #expect(noStdin.status != 0)

        let lastAdmin = try await Self.neosc(["admin", "set-role", "--email", "ops@example.com", "--role", "user"], environment: environment)
        #expect(lastAdmin.status != 0)
        #expect(lastAdmin.errors.contains("last active administrator"))
        let badRole = try await Self.neosc(["admin", "set-role", "--email", "ops@example.com", "--role", "root"], environment: environment)
        #expect(badRole.status != 0)

        let second = try await Self.neosc(
            ["admin", "create", "--email", "second@example.com", "--password-stdin"], environment: environment,
            input: "another long password\n")
        #expect(second.status == 0, "\(second.errors)")
        let demoted = try await Self.neosc(
            ["admin", "set-role", "--email", "second@example.com", "--role", "neosc"], environment: environment)
        #expect(demoted.status == 0, "\(demoted.errors)")
        #expect(demoted.output.contains("second@example.com is now neosc"))

        let reset = try await Self.neosc(
            ["admin", "reset-password", "--email", "second@example.com", "--password-stdin"], environment: environment,
            input: "a temporary password\n")
        #expect(reset.status == 0, "\(reset.errors)")
        #expect(reset.output.contains("must be changed at the next sign-in"))
        #expect(!reset.output.contains("a temporary password") && !reset.errors.contains("a temporary password"))
        let unknown = try await Self.neosc(
            ["admin", "reset-password", "--email", "nobody@example.com", "--password-stdin"], environment: environment,
            input: "a temporary password\n")
        #expect(unknown.status != 0)

        let seeded = try await Self.neosc(["seed", "--reset-workspaces"], environment: environment)
        #expect(seeded.status == 0, "\(seeded.errors)")
        #expect(seeded.output.contains("3 policies, 6 workspaces"))

        // The CLI writes the same audit entries as the API, with the operator as the actor: the
        // source in the details, no client address (the CLI has none).
        var configuration = Configuration()
        configuration.dataDirectory = directory.path
        let store = try await Wiring.openStore(configuration, logger: Harness.logger)
        let entries = try await store.events(AuditQuery(limit: 50))
        try await store.close()
        let byAction = Dictionary(grouping: entries, by: \.action)
        #expect(byAction[.createAdmin]?.count == 2)
        #expect(byAction[.updateUser]?.count == 1, "the refused set-role changed nothing and wrote nothing")
        #expect(byAction[.updateUser]?.first?.details["role"] == "admin->neosc")
        #expect(byAction[.resetWorkspaces]?.count == 1)
        #expect(byAction[.passwordReset]?.count == 1)
        let resetAccount = try #require(try await Self.storedUser("second@example.com", in: directory))
        #expect(resetAccount.mustChangePassword)
        for entry in entries where [.createAdmin, .updateUser, .resetWorkspaces, .passwordReset].contains(entry.action) {
            #expect(entry.details["source"] == "cli", "\(entry.action)")
            #expect(entry.ipAddress == nil, "\(entry.action) has no client address")
            #expect(entry.userID == nil, "\(entry.action): an operator, not an account, acted")
        }
    }

    static func storedUser(_ email: String, in directory: URL) async throws -> User? {
        var configuration = Configuration()
        configuration.dataDirectory = directory.path
        let store = try await Wiring.openStore(configuration, logger: Harness.logger)
        let user = try await store.user(email: email)
        try await store.close()
        return user
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
            #expect(try await server.request(.get, "/api/workspaces", token: admin).decoded([WorkspaceBody].self).count == 7)

            // The CLI writes to the same data file while the server runs.
            let reset = try await Self.neosc(["seed", "--reset-workspaces"], environment: environment)
            #expect(reset.status == 0, "\(reset.errors)")
            let followed = try await eventually {
                try await server.request(.get, "/api/workspaces", token: admin).decoded([WorkspaceBody].self).count == 6
            }
            #expect(followed, "the server's catalogue follows within NEOSC_CACHE_TTL")
        }
    }

    /// `neosc admin unlock` reaches the failed-login counts a running server keeps in memory.
    @Test func theCommandLineUnlocksAnAccountARunningServerHoldsBack() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = [
            "NEOSC_DATA_DIR": directory.path, "LOG_LEVEL": "error",
            "NEOSC_ADMIN_EMAIL": "held@example.com", "NEOSC_ADMIN_PASSWORD": "held admin password",
        ]
        try await withLiveServers([environment]) { servers in
            let server = servers[0]
            try await server.waitUntilHealthy()
            func login(_ password: String) async throws -> Int {
                try await server.request(
                    .post, "/api/auth/login", json: body(["email": "held@example.com", "password": password])
                ).status.code
            }
            for _ in 0..<10 { #expect(try await login("wrong password") == 401) }
            #expect(try await login("held admin password") == 429, "this address is held back")

            let unlocked = try await Self.neosc(["admin", "unlock", "--email", "held@example.com"], environment: environment)
            #expect(unlocked.status == 0, "\(unlocked.errors)")
            let admitted = try await eventually { try await login("held admin password") == 200 }
            #expect(admitted, "the running server applied the unlock")
            let token = try await server.login("held@example.com", "held admin password")
            let audit = try await server.request(.get, "/api/audit-logs?action=clear_login_throttle", token: token)
            #expect(audit.text.contains(#""source":"cli""#), "audited as the operator at the command line: \(audit.text)")

            let unknown = try await Self.neosc(["admin", "unlock", "--email", "nobody@example.com"], environment: environment)
            #expect(unknown.status != 0)
        }
    }

    /// `neosc admin reset-mfa`: the way back for an account whose authenticator is lost.
    @Test func theCommandLineResetsASecondFactor() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("neosc.sqlite").path
        let store = try await SQLiteStore.open(path: path, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Harness.logger)
        let now = Date()
        let user = User(
            id: "usr-lost", email: "lost@example.com", name: "Lost", organizationID: nil, role: .admin, passwordHash: "x",
            createdAt: now, updatedAt: now)
        try await store.insert(user, creating: nil)
        #expect(try await store.beginEnrollment(TOTPEnrollment(userID: user.id, secret: "k", recoveryCodeDigests: [], createdAt: now)))
        #expect(try await store.confirmEnrollment(userID: user.id, secret: "k", at: now))
        try await store.close()

        let environment = ["NEOSC_DATA_DIR": directory.path, "LOG_LEVEL": "error"]
        let reset = try await Self.neosc(["admin", "reset-mfa", "--email", "Lost@example.com"], environment: environment)
        #expect(reset.status == 0, "\(reset.errors)")
        let unknown = try await Self.neosc(["admin", "reset-mfa", "--email", "nobody@example.com"], environment: environment)
        #expect(unknown.status != 0)

        let reopened = try await SQLiteStore.open(path: path, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Harness.logger)
        #expect(try await reopened.totpEnrollment(userID: user.id) == nil)
        #expect(try await reopened.user(id: user.id)?.mfaEnabled == false)
        let entries = try await reopened.events(AuditQuery(action: .mfaReset, limit: 5))
        #expect(entries.count == 1 && entries.first?.details["by"] == "administrator")
        try await reopened.close()
    }

    /// `neosc admin disable-policy`: the way back from a policy that locks its administrators out.
    @Test func theCommandLineSwitchesAPolicyOff() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("neosc.sqlite").path
        var store = try await SQLiteStore.open(path: path, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Harness.logger)
        try await store.seedDefaults(at: Date())
        #expect(try await store.setEnabled(id: "pol-mfa-required", true, at: Date())?.enabled == true)
        try await store.close()
        let environment = ["NEOSC_DATA_DIR": directory.path, "LOG_LEVEL": "error"]
        let off = try await Self.neosc(["admin", "disable-policy", "--id", "pol-mfa-required"], environment: environment)
        #expect(off.status == 0, "\(off.errors)")
        #expect(try await Self.neosc(["admin", "disable-policy", "--id", "pol-nothing"], environment: environment).status != 0)
        store = try await SQLiteStore.open(path: path, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Harness.logger)
        #expect(try await store.policy(id: "pol-mfa-required")?.enabled == false)
        #expect(try await store.events(AuditQuery(action: .togglePolicy, limit: 5)).count == 1)
        try await store.close()
    }

    @Test func serveBootstrapsAnAdminAndStopsCleanlyOnSIGTERM() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = [
            "NEOSC_DATA_DIR": directory.path, "LOG_LEVEL": "warning",
            "NEOSC_ADMIN_EMAIL": "boot@example.com", "NEOSC_ADMIN_PASSWORD": "bootstrap password",
        ]
        try await withLiveServers([environment]) { servers in
            let server = servers[0]
            try await server.waitUntilHealthy()
            let login = try await server.request(
                .post, "/api/auth/login", json: #"{"email":"boot@example.com","password":"bootstrap password"}"#)
            #expect(login.status == 200)
            #expect(try login.decoded(SignedInBody.self).user.role == "admin")

            server.terminate()  // SIGTERM
            let status = try await server.exitStatus(within: 10)
            #expect(status != nil, "stopped within 10 s of SIGTERM")
            #expect(status == 0)
            #expect(!server.log.contains("bootstrap password"), "the password never reaches the log")
            // SQLite removes the write-ahead log when its last connection closes: the store was
            // closed after the server stopped, not left to the process's exit.
            #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("neosc.sqlite").path))
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("neosc.sqlite-wal").path))

            // The server signed the chain's head when it stopped: the sign-in is pinned.
            try await Self.expectHeadSigned(in: directory)
        }
    }

    /// `neosc audit verify` on `directory` finds the chain intact and its head signed.
    static func expectHeadSigned(in directory: URL) async throws {
        let verified = try await neosc(["audit", "verify"], environment: ["NEOSC_DATA_DIR": directory.path])
        #expect(verified.status == 0, "\(verified.output) \(verified.errors)")
        let report = try JSONSerialization.jsonObject(with: Data(verified.output.utf8)) as? [String: Any]
        let head = report?["head"] as? [String: Any]
        let checkpoint = report?["last_checkpoint"] as? [String: Any]
        #expect(report?["ok"] as? Bool == true)
        #expect(checkpoint?["seq"] as? Int == head?["seq"] as? Int && checkpoint != nil, "\(verified.output)")
    }

    /// A stop past its deadline (a request whose body never comes holds the server) cancels
    /// what is left: the chain's head is still signed before the store closes (it was lost with
    /// "Store is closed": an adversarial probe, 2026-12-07).
    @Test func aStopPastItsDeadlineStillSignsTheHead() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = [
            "NEOSC_DATA_DIR": directory.path, "LOG_LEVEL": "warning", "NEOSC_SHUTDOWN_TIMEOUT": "1s",
            "NEOSC_ADMIN_EMAIL": "boot@example.com", "NEOSC_ADMIN_PASSWORD": "bootstrap password",
        ]
        try await withLiveServers([environment]) { servers in
            let server = servers[0]
            try await server.waitUntilHealthy()
            let login = try await server.request(
                .post, "/api/auth/login", json: #"{"email":"boot@example.com","password":"bootstrap password"}"#)
            #expect(login.status == 200)
            // A body that never comes: the server waits for it past its shutdown deadline.
            let held = try await LoopbackSocket(port: server.port)
            held.send("POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
            try await Task.sleep(for: .milliseconds(300))
            server.terminate()
            let status = try await server.exitStatus(within: 20)
            #expect(status != nil, "stopped within 20 s of SIGTERM")
            #expect(!server.log.contains("could not sign the audit chain's head"), "\(server.log)")
            try await Self.expectHeadSigned(in: directory)
        }
    }

    /// `neosc audit verify` on the configured data directory or a copy of the data file: exit 0
    /// and `"ok": true` for an intact trail; exit 1 with the first broken `seq` for an edited one.
    @Test func auditVerifyFindsAnEditedEntryOffline() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = ["NEOSC_DATA_DIR": directory.path, "LOG_LEVEL": "error"]
        for email in ["first@example.com", "second@example.com", "third@example.com"] {
            let created = try await Self.neosc(
                ["admin", "create", "--email", email, "--password-stdin"], environment: environment, input: "a long admin password\n")
            #expect(created.status == 0, "\(created.errors)")
        }
        let intact = try await Self.neosc(["audit", "verify"], environment: environment)
        #expect(intact.status == 0, "\(intact.output) \(intact.errors)")
        #expect(intact.output.contains(#""ok" : true"#) && intact.output.contains(#""entries" : 3"#), "\(intact.output)")
        let head = (try JSONSerialization.jsonObject(with: Data(intact.output.utf8)) as? [String: Any])?["head"] as? [String: Any]
        let noted = "\(head?["seq"] as? Int ?? 0):\(head?["hash"] as? String ?? "")"
        #expect(try await Self.neosc(["audit", "verify", "--expect", noted], environment: environment).status == 0)
        let unknown = try await Self.neosc(["audit", "verify", "--expect", "9:" + String(repeating: "ab", count: 32)], environment: environment)
        #expect(unknown.status == 1 && unknown.output.contains("removed from the end"), "\(unknown.output)")
        #expect(try await Self.neosc(["audit", "verify", "--expect", "3:xyz"], environment: environment).status == 64)

        let path = directory.appendingPathComponent("neosc.sqlite").path
        let connection = try await SQLiteFile.connection(path)
        _ = try await connection.query("UPDATE audit_logs SET details = '{\"source\":\"api\"}' WHERE seq = 2")
        try await connection.close()
        let copy = Harness.makeDirectory().appendingPathComponent("copy.sqlite")
        defer { try? FileManager.default.removeItem(at: copy.deletingLastPathComponent()) }
        try FileManager.default.copyItem(atPath: path, toPath: copy.path)

        for arguments in [["audit", "verify"], ["audit", "verify", "--data-file", copy.path]] {
            let broken = try await Self.neosc(arguments, environment: environment)
            #expect(broken.status == 1, "\(arguments): \(broken.output) \(broken.errors)")
            let report = try JSONSerialization.jsonObject(with: Data(broken.output.utf8)) as? [String: Any]
            #expect(report?["ok"] as? Bool == false)
            #expect(report?["broken_at"] as? Int == 2, "\(broken.output)")
            #expect(report?["entries"] as? Int == 1)
        }
        let missing = try await Self.neosc(["audit", "verify", "--data-file", "/nonexistent/neosc.sqlite"], environment: environment)
        #expect(missing.status != 0 && missing.errors.contains("no data file"))
    }

    @Test func auditKeysAreMadeAndShownByTheCommandLine() async throws {
        let made = try await Self.neosc(["audit", "new-key"], environment: [:])
        #expect(made.status == 0)
        let key = made.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let expected = Data(try AuditSigningKey(base64: key).publicKey).base64EncodedString()
        let shown = try await Self.neosc(["audit", "public-key"], environment: ["NEOSC_AUDIT_SIGNING_KEY": key])
        #expect(shown.status == 0 && shown.output.trimmingCharacters(in: .whitespacesAndNewlines) == expected)
        let none = try await Self.neosc(["audit", "public-key"], environment: ["NEOSC_DATA_DIR": Harness.makeDirectory().path])
        #expect(none.status != 0 && none.errors.contains("no audit signing key"))
        let invalid = try await Self.neosc(["audit", "public-key"], environment: ["NEOSC_AUDIT_SIGNING_KEY": "not-a-key"])
        #expect(invalid.status == 2 && invalid.errors.contains("NEOSC_AUDIT_SIGNING_KEY"))
    }
}
