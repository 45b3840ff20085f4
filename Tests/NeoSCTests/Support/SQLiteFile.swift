import Foundation
import NIOPosix
import SQLiteNIO
import SQLiteStore

/// An embedded store's data file, as a test reaches it behind NeoSC's back.
enum SQLiteFile {
    /// The path of a data file in `directory` with NeoSC's schema, its store closed again.
    static func migrated(in directory: URL) async throws -> String {
        let path = directory.appendingPathComponent("neosc.sqlite").path
        let store = try await SQLiteStore.open(path: path, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Harness.logger)
        try await store.close()
        return path
    }

    /// An open store on a fresh data file in a directory of its own, for `body` (with the file's
    /// path): closed, and the directory removed, whether `body` threw or not.
    static func withStore(
        groupCommit: SQLiteStore.GroupCommit = .init(), _ body: (SQLiteStore, String) async throws -> Void
    ) async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("neosc.sqlite").path
        let store = try await SQLiteStore.open(
            path: path, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Harness.logger, groupCommit: groupCommit)
        try await closing([store.close]) { try await body(store, path) }
    }

    /// A connection of the test's own to the data file at `path`; the caller closes it.
    static func connection(_ path: String) async throws -> SQLiteConnection {
        try await SQLiteConnection.open(
            storage: .file(path: path), threadPool: .singleton, logger: Harness.logger, on: MultiThreadedEventLoopGroup.singleton.any())
    }
}
