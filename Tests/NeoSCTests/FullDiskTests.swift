import Foundation
import HTTPTypes
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue #15, items 11 and 16: a full disk leaves NeoSC answering reads, refusing writes with
/// 503, saying so on `/health`, and its store intact; it recovers once there is room again.
/// The data directory is a 16 MiB tmpfs of the test's own (the test runs as root, like CI).
@Suite(.serialized) struct FullDiskTests {
    /// A tmpfs of `megabytes` at a new directory, unmounted by `body`'s end whatever happens.
    private static func withSmallFilesystem(megabytes: Int, _ body: (URL) async throws -> Void) async throws {
        let directory = Harness.makeDirectory()
        guard mount("tmpfs", directory.path, "tmpfs", 0, "size=\(megabytes)m,mode=0700") == 0 else {
            Issue.record("mounting a tmpfs failed (\(String(cString: strerror(errno)))): this test needs root")
            return
        }
        do {
            try await body(directory)
        } catch {
            umount2(directory.path, Int32(MNT_DETACH))
            throw error
        }
        umount2(directory.path, Int32(MNT_DETACH))
    }

    /// Writes zeros to `file` until the filesystem has no room left.
    private static func fill(_ file: URL) {
        guard FileManager.default.createFile(atPath: file.path, contents: nil) else { return }
        guard let handle = try? FileHandle(forWritingTo: file) else { return }
        defer { try? handle.close() }
        let chunk = Data(count: 16_384)
        while (try? handle.write(contentsOf: chunk)) != nil {}
        // The last partial chunk: byte by byte up to the very end.
        while (try? handle.write(contentsOf: Data(count: 1))) != nil {}
    }

    private static func workspace(_ id: String) -> String {
        body(["id": id, "name": "Disk \(id)", "type": "linux", "url": "/\(id)"])
    }

    @Test func aFullDiskRefusesWritesWith503AndKeepsReadsAndTheStore() async throws {
        try await Self.withSmallFilesystem(megabytes: 16) { directory in
            let environment = [
                "NEOSC_DATA_DIR": directory.appendingPathComponent("data").path, "LOG_LEVEL": "warning",
                "NEOSC_ADMIN_EMAIL": "disk@example.com", "NEOSC_ADMIN_PASSWORD": "disk admin password",
            ]
            try await withLiveServers([environment]) { servers in
                let server = servers[0]
                try await server.waitUntilHealthy()
                let token = try await server.login("disk@example.com", "disk admin password")
                #expect(try await server.request(.post, "/api/workspaces", token: token, json: Self.workspace("before")).status == 201)

                Self.fill(directory.appendingPathComponent("filler"))
                // Changes are refused with 503 and a reason once the store's files cannot grow
                // (the journal may first absorb a few), and never with a 500.
                var refused: Reply?
                for index in 0..<200 {
                    let answer = try await server.request(
                        .post, "/api/workspaces", token: token, json: Self.workspace("during-\(index)"))
                    #expect(answer.status == 201 || answer.status == 503, "\(answer.status): \(answer.text)")
                    if answer.status == 503 {
                        refused = answer
                        break
                    }
                }
                #expect(refused?["detail"] as? String == "The data store cannot write: its disk is full")
                let degraded = try await eventually {
                    let health = try await server.request(.get, "/health")
                    return health.status == 503 && health["status"] as? String == "degraded"
                        && health["detail"] as? String == "The data store cannot write: its disk is full"
                }
                #expect(degraded, "/health reports the store degraded, with the reason")
                // However often it is polled (anyone may), the change is logged once.
                for _ in 0..<3 {
                    try await Task.sleep(for: .milliseconds(1_100))
                    #expect(try await server.request(.get, "/health").status == 503)
                }
                #expect(server.log.components(separatedBy: "the store refuses writes").count == 2, "logged once: \(server.log)")
                // Reads go on: the signed-in administrator still sees the catalogue.
                let listed = try await server.request(.get, "/api/workspaces", token: token)
                #expect(listed.status == 200)
                #expect(listed.text.contains("\"before\""))

                // Room again: writes and health come back without a restart.
                try FileManager.default.removeItem(at: directory.appendingPathComponent("filler"))
                let healthy = try await eventually {
                    try await server.request(.get, "/health").status == 200
                }
                #expect(healthy)
                #expect(try await server.request(.post, "/api/workspaces", token: token, json: Self.workspace("after")).status == 201)
                #expect(server.log.contains("Fatal") == false, "no crash: \(server.log)")
            }
            // The store is whole: a new process opens it and finds every accepted change.
            try await withLiveServers([environment]) { servers in
                let server = servers[0]
                try await server.waitUntilHealthy()
                let token = try await server.login("disk@example.com", "disk admin password")
                let listed = try await server.request(.get, "/api/workspaces", token: token)
                #expect(listed.text.contains("\"before\"") && listed.text.contains("\"after\""))
            }
        }
    }
}
