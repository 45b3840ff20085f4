import Domain
import Foundation
import Logging
import MongoStore
import SQLiteStore
import TestSupport
import Testing

@testable import App

/// Which store a test runs against; store-level and HTTP tests run on each.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case embedded
    /// SecantusDB as it starts by default: a single-node replica set, so with transactions.
    case mongo
    /// SecantusDB answering as a standalone server: no transactions, changes are journaled.
    case mongoStandalone

    var testDescription: String { rawValue }
    var isMongo: Bool { self != .embedded }

    /// A connection string for a database no other test uses, on the server of this kind.
    func freshDatabaseURL() async throws -> String {
        try await TestMongo.shared.freshDatabaseURL(standalone: self == .mongoStandalone)
    }
}

/// A SecantusDB server (MongoDB wire protocol) on a loopback port chosen at run time, with its
/// storage in the test run's temporary folder.
final class SecantusServer: Sendable {
    let storage: URL
    private let process: LoopbackProcess

    /// - Parameter standalone: answer `hello` as a standalone server (no replica set, so no
    ///   transactions), not as the single-node replica set SecantusDB is by default.
    init(port: Int? = nil, storage: URL? = nil, standalone: Bool = false) throws {
        let port = try port ?? FreePort.pick()
        self.storage = storage ?? FileManager.default.temporaryDirectory.appendingPathComponent("secantus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.storage, withIntermediateDirectories: true)
        // Its own folder only: one it was given is its giver's.
        if storage == nil { ChildProcess.removeAtExit(self.storage) }
        process = LoopbackProcess(
            name: "SecantusDB", executable: LoopbackProcess.installed("secantusd-py", environment: "NEOSC_SECANTUSD"),
            arguments: ["--port", String(port), "--storage-path", self.storage.path] + (standalone ? ["--standalone"] : []),
            port: port)
    }

    var port: Int { process.port }
    var url: String { "mongodb://127.0.0.1:\(port)" }

    func start() async throws { try await process.start() }

    /// Stops the server and waits for it to exit.
    func stop() async { await process.stop() }

    /// Kills the server and removes its storage (for a `defer`, where nothing can be awaited).
    func remove() {
        process.kill()
        try? FileManager.default.removeItem(at: storage)
    }
}

/// The MongoDB the store-level tests share: the one `scripts/test` started, or a private one.
actor TestMongo {
    static let shared = TestMongo()
    /// The MongoDB timeout of the stores tests open on it. The shared server is Python, and
    /// every suite of a loaded 2-core run queries it at once: a call can wait several seconds,
    /// which is the test machine's latency, not NeoSC's (a clean-clone run saw the default 5 s
    /// exceeded). Tests about timeouts set their own.
    static let timeout: TimeInterval = 30
    /// One start-up for all callers: the actor is reentrant across the server's start.
    private var bases: [Bool: Task<String, any Error>] = [:]
    private var privateServers: [SecantusServer] = []

    /// A connection string for a database no other test uses, on a replica set or a standalone server.
    func freshDatabaseURL(standalone: Bool = false) async throws -> String {
        "\(try await baseURL(standalone: standalone))/neosc_test_\(UUID().uuidString.prefix(12).lowercased())"
    }

    private func baseURL(standalone: Bool) async throws -> String {
        if let base = bases[standalone] { return try await base.value }
        let task = Task<String, any Error> {
            let variable = standalone ? "NEOSC_TEST_MONGO_STANDALONE_URL" : "NEOSC_TEST_MONGO_URL"
            if let url = ProcessInfo.processInfo.environment[variable] { return url }
            let server = try SecantusServer(standalone: standalone)
            try await server.start()
            self.keep(server)
            return server.url
        }
        bases[standalone] = task
        return try await task.value
    }

    private func keep(_ server: SecantusServer) {
        privateServers.append(server)
    }
}

extension Harness {
    /// A fresh store of `kind`, opened the way `neosc serve` opens it.
    static func openStore(_ kind: StoreKind) async throws -> (store: any Store, directory: URL) {
        let directory = makeDirectory()
        var configuration = Configuration()
        configuration.dataDirectory = directory.path
        if kind.isMongo {
            configuration.mongoURL = Secret(try await kind.freshDatabaseURL())
            configuration.mongoTimeout = TestMongo.timeout
        }
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
