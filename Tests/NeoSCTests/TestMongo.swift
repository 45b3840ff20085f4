import Domain
import Foundation
import Logging
import MongoStore
import SQLiteStore
import Synchronization
import Testing

@testable import neosc

/// Which store a test runs against; store-level and HTTP tests run on both.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case embedded
    case mongo

    var testDescription: String { rawValue }
}

/// A SecantusDB server (MongoDB wire protocol) on a loopback port chosen at run time, with its
/// storage in the test run's temporary folder.
final class SecantusServer: @unchecked Sendable {
    let port: Int
    let storage: URL
    private var process: Process?

    static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["NEOSC_SECANTUSD"] { return URL(fileURLWithPath: path) }
        // Tests/NeoSCTests/TestMongo.swift → package root → .venv (made by scripts/test).
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".venv/bin/secantusd-py")
    }

    static var temporaryRoot: URL {
        ProcessInfo.processInfo.environment["NEOSC_TEST_TMP"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory
    }

    init(port: Int? = nil, storage: URL? = nil) throws {
        self.port = try port ?? FreePort.pick()
        self.storage = storage ?? Self.temporaryRoot.appendingPathComponent("secantus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.storage, withIntermediateDirectories: true)
    }

    var url: String { "mongodb://127.0.0.1:\(port)" }

    func start() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable.path) else {
            throw Missing(description: "SecantusDB is not installed at \(Self.executable.path); run ./scripts/test")
        }
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["--port", String(port), "--storage-path", storage.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        SecantusServer.started.withLock { _ = $0.insert(process.processIdentifier) }
        for _ in 0..<150 {
            if FreePort.isListening(port) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        stop()
        throw Missing(description: "SecantusDB did not start listening on port \(port)")
    }

    /// Stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it to exit.
    func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        let deadline = Date(timeIntervalSinceNow: 5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        SecantusServer.started.withLock { _ = $0.remove(process.processIdentifier) }
    }

    func remove() {
        stop()
        try? FileManager.default.removeItem(at: storage)
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    /// Every server started and not yet stopped, killed at exit so a crashed run leaves none behind.
    static let started = Mutex<Set<Int32>>([])
    static let reaper: Void = {
        atexit {
            for pid in SecantusServer.started.withLock({ $0 }) { kill(pid, SIGKILL) }
        }
    }()
}

/// The MongoDB the store-level tests share: the one `scripts/test` started, or a private one.
actor TestMongo {
    static let shared = TestMongo()
    /// One start-up for all callers: the actor is reentrant across the server's start.
    private var base: Task<String, any Error>?
    private var privateServer: SecantusServer?

    /// A connection string for a database no other test uses.
    func freshDatabaseURL() async throws -> String {
        "\(try await baseURL())/neosc_test_\(UUID().uuidString.prefix(12).lowercased())"
    }

    private func baseURL() async throws -> String {
        if let base { return try await base.value }
        let task = Task<String, any Error> {
            if let url = ProcessInfo.processInfo.environment["NEOSC_TEST_MONGO_URL"] { return url }
            _ = SecantusServer.reaper
            let server = try SecantusServer()
            try await server.start()
            self.keep(server)
            return server.url
        }
        base = task
        return try await task.value
    }

    private func keep(_ server: SecantusServer) {
        privateServer = server
    }
}

extension Harness {
    /// A fresh store of `kind`, opened the way `neosc serve` opens it.
    static func openStore(_ kind: StoreKind) async throws -> (store: any Store, directory: URL) {
        let directory = makeDirectory()
        var configuration = Configuration()
        configuration.dataDirectory = directory.path
        if kind == .mongo { configuration.mongoURL = Secret(try await TestMongo.shared.freshDatabaseURL()) }
        return (try await Wiring.openStore(configuration, logger: logger), directory)
    }

    /// Runs `body` with a fresh store of `kind`, closing it afterwards even when `body` throws.
    static func withStore(_ kind: StoreKind, _ body: (any Store) async throws -> Void) async throws {
        let (store, directory) = try await openStore(kind)
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            try await body(store)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }
}
