import Domain
import Foundation
import HTTPTypes
import Services
import Synchronization
import TestSupport
import Testing

@testable import App
@testable import MongoStore

/// Issue #14, atomic: NeoSC killed (SIGKILL, no shutdown) during a burst of launches, stops and
/// user changes keeps, after a restart, exactly one audit entry for every change the store holds
/// and no entry for a change it does not hold; and the chain still verifies. On the embedded
/// store and on MongoDB (SecantusDB, a single-node replica set: transactions).
@Suite(.serialized) struct CrashConsistencyTests {
    @Test(arguments: StoreKind.allCases)
    func aKilledServerLeavesEveryChangeWithExactlyItsEntry(_ kind: StoreKind) async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var environment = [
            "NEOSC_DATA_DIR": directory.path, "LOG_LEVEL": "error", "NEOSC_MAX_SESSIONS_PER_USER": "1000",
            "NEOSC_ADMIN_EMAIL": "crash@example.com", "NEOSC_ADMIN_PASSWORD": "crash admin password",
        ]
        var configuration = Configuration()
        configuration.dataDirectory = directory.path
        if kind.isMongo {
            let url = try await kind.freshDatabaseURL()
            environment["MONGO_URL"] = url
            // A standalone server's journaled changes left open by the kill are undone once their
            // lease has passed: short here, so that the restarted server's recovery pass does it.
            environment["MONGO_CHANGE_LEASE"] = "2s"
            // A call's bound, not what is tested: the shared test database has taken over 5 s.
            environment["MONGO_TIMEOUT"] = "\(Int(TestMongo.timeout))s"
            configuration.mongoURL = Secret(url)
            configuration.mongoTimeout = TestMongo.timeout
        }
        let workspaces = ["ws-linux-desktop", "ws-windows-rdp", "ws-sap-gui", "ws-secure-browser", "ws-admin-panel"]
        var changedUser = ""
        try await withLiveServers([environment]) { servers in
            let server = servers[0]
            try await server.waitUntilHealthy()
            let admin = try await server.login("crash@example.com", "crash admin password")
            let registered = try await server.request(
                .post, "/api/auth/register", json: body(["email": "changed@example.com", "password": "changed user password", "name": "Changed"]))
            let userID = try #require((registered["user"] as? [String: Any])?["id"] as? String, "\(registered.text)")
            changedUser = userID

            // Four clients launch and stop, one changes a role back and forth, until the kill. They
            // stop on a flag, not by cancellation: cancelling a URLSession request in flight can
            // deadlock FoundationNetworking on Linux.
            let stopping = StopFlag()
            let launched = Tally()
            let burst = Task {
                await withTaskGroup(of: Void.self) { group in
                    for worker in 0..<4 {
                        group.addTask {
                            var round = 0
                            while !stopping.isSet {
                                let workspace = workspaces[(worker + round) % workspaces.count]
                                let launch = try? await server.request(.post, "/api/workspaces/\(workspace)/launch", token: admin)
                                if launch?.status == .created { launched.add() }
                                _ = try? await server.request(.post, "/api/workspaces/\(workspace)/stop", token: admin)
                                round += 1
                            }
                        }
                    }
                    group.addTask {
                        var round = 0
                        while !stopping.isSet {
                            let role = round.isMultiple(of: 2) ? "neosc" : "user"
                            _ = try? await server.request(.patch, "/api/users/\(userID)", token: admin, json: #"{"role":"\#(role)"}"#)
                            round += 1
                        }
                    }
                }
            }
            // Killed mid-burst once it has made enough changes to tell, however slow the machine:
            // a fixed 3 s saw 8 launches on MongoDB under the full suite.
            let start = ContinuousClock.now
            while launched.count < 20 || ContinuousClock.now - start < .seconds(3) {
                try await Task.sleep(for: .milliseconds(50))
                if ContinuousClock.now - start > .seconds(120) { break }
            }
            server.kill()
            #expect(try await server.exitStatus(within: 10) != nil)
            stopping.set()
            await burst.value
        }

        // A restart recovers the store as the database left it (on MongoDB its recovery pass
        // runs at start-up and every second here: time for a lease to pass); then look at it directly.
        try await withLiveServers([environment]) { servers in
            try await servers[0].waitUntilHealthy()
            if let url = environment["MONGO_URL"] {
                // Until the server's own pass has left nothing to finish (looked at, not done).
                let observer = try await MongoStore.open(
                    url: url, options: .init(timeout: .seconds(Int(TestMongo.timeout))), logger: Harness.logger)
                try await closing([observer.close]) {
                    let finished = try await eventually(within: 60) {
                        let staged = try await observer.database.count(
                            "audit_logs", [AuditChainAppender.pending: .bool(true), "seq": .document(["$exists": .bool(false)])])
                        let journals = try await observer.database.count(
                            ChangeJournal.collection, ["state": .document(["$in": .array(ChangeJournal.unfinishedStates.map { .string($0) })])])
                        return staged + journals == 0
                    }
                    #expect(finished, "the restarted server's recovery pass finished every interrupted change")
                }
            }
        }
        let store = try await Wiring.openStore(configuration, logger: Harness.logger, seeding: false)
        do {
            let left = try await store.finishInterruptedChanges(at: Date() + 3_600)
            #expect(left == InterruptedChanges(), "the restarted server finished what the kill interrupted: \(left)")
            let sessions = try await store.sessions(userID: nil, status: nil, limit: 1_000_000)
            var entries: [AuditEvent] = []
            var from: Int64 = 1
            while true {
                let page = try await store.chain(from: from, limit: 5_000)
                entries += page
                guard let last = page.last?.seal?.seq, page.count == 5_000 else { break }
                from = last + 1
            }
            #expect(sessions.count > 10, "the burst made changes before the kill (\(sessions.count) sessions)")

            let launches = entries.filter { $0.action == .launchWorkspace && $0.success }.compactMap { $0.details["session_id"] }
            let stops = entries.filter { $0.action == .stopWorkspace }.compactMap { $0.details["session_id"] }
            #expect(Set(launches).count == launches.count, "one launch entry per session")
            #expect(Set(stops).count == stops.count, "one stop entry per session")
            let sessionIDs = Set(sessions.map(\.id))
            #expect(sessionIDs.subtracting(launches).isEmpty, "sessions without their launch entry")
            #expect(Set(launches).subtracting(sessionIDs).isEmpty, "launch entries without their session")
            let stopped = Set(sessions.filter { $0.endReason == SessionEnding.stopped.reason }.map(\.id))
            #expect(stopped.subtracting(stops).isEmpty, "stopped sessions without their stop entry")
            #expect(Set(stops).subtracting(stopped).isEmpty, "stop entries without their stopped session")

            // A change to the role already stored records no `role` detail: the newest that does counts.
            let roleChanges = entries.filter { $0.action == .updateUser && $0.resourceID == changedUser && $0.details["role"] != nil }
            let user = try #require(try await store.user(id: changedUser))
            if let last = roleChanges.last {
                #expect(last.details["role"]?.hasSuffix("->\(user.role.rawValue)") == true, "the newest entry names the stored role")
            } else {
                #expect(user.role == .user, "no entry, no change")
            }

            let key = try AuditSigningKey(
                base64: String(contentsOf: directory.appendingPathComponent("audit-signing.key"), encoding: .utf8))
            let report = try await AuditIntegrity.verify(store, trusting: [key.publicKey])
            guard case .intact(let summary) = report else {
                Issue.record("the chain does not verify after the kill: \(report)")
                try await store.close()
                return
            }
            #expect(summary.entries == entries.count)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }
}

/// A flag set once, read from any task.
private final class StopFlag: Sendable {
    private let flag = Atomic(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}

private final class Tally: Sendable {
    private let value = Atomic(0)
    var count: Int { value.load(ordering: .relaxed) }
    func add() { value.add(1, ordering: .relaxed) }
}
