import Domain
import Foundation
import Logging
import NIOPosix
import SQLiteNIO
import SQLiteStore
import Services
import Testing

@testable import App
@testable import MongoStore

/// The audit chain as each store keeps it (issue #14: tamper-evident): appends are sealed,
/// gap-free and linear under concurrency, also between two processes on one database; the
/// verification finds what an intruder with write access to the data file changes.
@Suite("Audit chain in the stores")
struct AuditChainStoreTests {
    static func event(_ index: Int, at date: Date = Date()) -> AuditEvent {
        AuditEvent(
            timestamp: date, userID: "usr-\(index % 4)", userEmail: "u\(index % 4)@example.com",
            action: index.isMultiple(of: 2) ? .launchWorkspace : .stopWorkspace, resourceType: "workspace",
            resourceID: "ws-\(index % 3)", details: ["session_id": "ses-\(index)"], ipAddress: "192.0.2.\(index % 200)",
            success: true)
    }

    /// Two stores on one database, as two replicas (or a server and the CLI) open it.
    static func withTwoStores(_ kind: StoreKind, _ body: (any Store, any Store) async throws -> Void) async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = Configuration()
        configuration.dataDirectory = directory.path
        if kind.isMongo {
            configuration.mongoURL = Secret(try await kind.freshDatabaseURL())
            configuration.mongoTimeout = TestMongo.timeout
        }
        let first = try await Wiring.openStore(configuration, logger: Harness.logger)
        let second: any Store
        do {
            second = try await Wiring.openStore(configuration, logger: Harness.logger, seeding: false)
        } catch {
            try? await first.close()
            throw error
        }
        try await closing([first.close, second.close]) { try await body(first, second) }
    }

    @Test("appends are sealed in order, linked, readable by seq, and verify", arguments: StoreKind.allCases)
    func appendsFormAChain(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let integrity = AuditIntegrity(store: store, key: AuditSigningKey(), clock: .system)
            #expect(try await store.chainHead() == nil)
            guard case .intact(let empty) = try await integrity.verify() else {
                Issue.record("an empty trail must verify")
                return
            }
            #expect(empty.entries == 0 && empty.head == nil)

            var stored: [AuditEvent] = []
            for index in 0..<7 { stored.append(try await store.append(Self.event(index))) }
            #expect(stored.map { $0.seal!.seq } == Array(1...7))
            #expect(stored[0].seal!.prevHash == AuditChain.genesis)
            for (before, after) in zip(stored, stored.dropFirst()) { #expect(after.seal!.prevHash == before.seal!.hash) }
            #expect(try await store.chainHead() == stored.last!.seal)
            #expect(try await store.chain(from: 1, limit: 100) == stored)
            #expect(try await store.chain(from: 3, limit: 2) == Array(stored[2...3]))
            #expect(try await store.chain(from: 8, limit: 10).isEmpty)

            let checkpoint = try #require(try await integrity.signHead())
            #expect(checkpoint.seq == 7 && checkpoint.hash == stored.last!.seal!.hash && checkpoint.isSignatureValid)
            #expect(try await integrity.signHead() == nil, "the head is already signed")
            try await store.insert(checkpoint)  // the same point again is kept once
            #expect(try await store.checkpoints() == [checkpoint])
            guard case .intact(let summary) = try await integrity.verify(pageSize: 3) else {
                Issue.record("an untouched trail must verify")
                return
            }
            #expect(summary.entries == 7 && summary.head == stored.last!.seal && summary.checkpoints == 1)
        }
    }

    /// The checkpoint service's due signatures, its heartbeat and the store's closing may all sign
    /// at once: each would find the head unsigned and sign it again.
    @Test("signatures of the head at once sign it once, and none comes after the last", arguments: StoreKind.allCases)
    func headSignaturesTakeTurns(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let integrity = AuditIntegrity(store: store, key: AuditSigningKey(), clock: .system)
            for index in 0..<7 { try await store.append(Self.event(index)) }
            let signed = try await withThrowingTaskGroup(of: AuditCheckpoint?.self) { group in
                for _ in 0..<8 { group.addTask { try await integrity.signHead() } }
                return try await group.reduce(into: [AuditCheckpoint]()) { if let checkpoint = $1 { $0.append(checkpoint) } }
            }
            #expect(signed.map(\.seq) == [7])
            #expect(try await store.checkpoints().map(\.seq) == [7])

            try await store.append(Self.event(7))
            #expect(try await integrity.signLastHead()?.seq == 8)
            try await store.append(Self.event(8))
            #expect(try await integrity.signHead() == nil, "nothing is signed after the last")
            #expect(try await integrity.signLastHead() == nil)
            #expect(try await store.checkpoints().map(\.seq) == [7, 8])
        }
    }

    @Test("concurrent appends from two stores on one database stay one gap-free chain", arguments: StoreKind.allCases)
    func concurrentAppendsFromTwoWriters(_ kind: StoreKind) async throws {
        try await Self.withTwoStores(kind) { first, second in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<40 {
                    let store = index.isMultiple(of: 2) ? first : second
                    group.addTask { _ = try await store.append(Self.event(index)) }
                }
                try await group.waitForAll()
            }
            let chain = try await first.chain(from: 1, limit: 1_000)
            #expect(chain.map { $0.seal!.seq } == Array(1...40))
            #expect(Set(chain.map(\.id)).count == 40)
            guard case .intact(let summary) = try await AuditIntegrity.verify(second, trusting: []) else {
                Issue.record("concurrent appends broke the chain")
                return
            }
            #expect(summary.entries == 40)
        }
    }

    @Test("an entry stamped before the entry it follows takes that entry's time, within a minute", arguments: StoreKind.allCases)
    func timesNeverGoBackAlongTheChain(_ kind: StoreKind) async throws {
        try await Self.withTwoStores(kind) { first, second in
            let base = Date() - 30
            let a = try await first.append(Self.event(0, at: base))
            let b = try await second.append(Self.event(1, at: base - 0.5))
            let c = try await first.append(Self.event(2, at: base - 0.2))
            let d = try await second.append(Self.event(3, at: base - 120))
            let milliseconds = [a, b, c, d].map { AuditChain.milliseconds($0.timestamp) }
            let baseMilliseconds = AuditChain.milliseconds(base)
            #expect(milliseconds[0..<3] == [baseMilliseconds, baseMilliseconds, baseMilliseconds], "caught up with the entry before")
            #expect(milliseconds[3] == baseMilliseconds - 120_000, "a step back of more than a minute is kept as it is")
            #expect(try await first.events(AuditQuery(limit: 10)).map(\.id) == [c, b, a, d].map(\.id))

            // Times taken before the seq, as concurrent requests' are: listed in the chain's order.
            let now = Date()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 4..<44 {
                    let store = index.isMultiple(of: 2) ? first : second
                    let stamp = now - Double.random(in: 0..<0.5)
                    group.addTask { _ = try await store.append(Self.event(index, at: stamp)) }
                }
                try await group.waitForAll()
            }
            let listed = try await second.events(AuditQuery(since: now - 1, limit: 100))
            #expect(listed.count == 40)
            #expect(listed.map { $0.seal!.seq } == listed.map { $0.seal!.seq }.sorted(by: >), "newest first is last written first")
            guard case .intact = try await AuditIntegrity.verify(first, trusting: []) else {
                Issue.record("entries that took an earlier entry's time do not verify")
                return
            }
        }
    }

    /// How an intruder with the data file changes the trail, and what verification must say.
    enum Tampering: String, CaseIterable, CustomTestStringConvertible {
        case none, editARow, deleteARow, reorderTwo, truncateBehindTheCheckpoint, forgeTheCheckpoint, unsealARow
        case insertOutsideTheChain, nullTheNewestHash, garbleACheckpoint
        var testDescription: String { rawValue }

        var statements: [String] {
            switch self {
            case .none: []
            case .editARow: ["UPDATE audit_logs SET user_id = 'usr-admin' WHERE seq = 4"]
            case .deleteARow: ["DELETE FROM audit_logs WHERE seq = 6"]
            case .reorderTwo:
                [
                    "UPDATE audit_logs SET seq = -1 WHERE seq = 3", "UPDATE audit_logs SET seq = 3 WHERE seq = 7",
                    "UPDATE audit_logs SET seq = 7 WHERE seq = -1",
                ]
            case .truncateBehindTheCheckpoint: ["DELETE FROM audit_logs WHERE seq > 8"]
            case .forgeTheCheckpoint: ["UPDATE audit_checkpoints SET signed_at = signed_at - 3600"]
            case .unsealARow: ["UPDATE audit_logs SET hash = NULL, prev_hash = NULL WHERE seq = 5"]
            case .insertOutsideTheChain:
                [
                    """
                    INSERT INTO audit_logs (seq, id, timestamp, action, details, success)
                    VALUES (0, 'aud-planted', 1795509000, 'login', '{}', 1)
                    """
                ]
            case .nullTheNewestHash: ["UPDATE audit_logs SET hash = NULL WHERE seq = 12"]
            case .garbleACheckpoint: ["UPDATE audit_checkpoints SET kind = 'bogus'"]
            }
        }

        /// Where the chain must be reported broken (nil: intact).
        var brokenAt: Int64? {
            switch self {
            case .none: nil
            case .editARow: 4
            case .deleteARow: 6
            case .reorderTwo: 3
            case .truncateBehindTheCheckpoint: 9
            case .forgeTheCheckpoint: 10
            case .unsealARow: 5
            case .insertOutsideTheChain: 0
            case .nullTheNewestHash: 12
            case .garbleACheckpoint: 0
            }
        }
    }

    @Test("what is changed in the data file behind NeoSC's back is found, at the right seq", arguments: Tampering.allCases)
    func tamperingWithTheDataFileIsFound(_ tampering: Tampering) async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("neosc.sqlite").path
        let key = AuditSigningKey()
        var store = try await SQLiteStore.open(path: path, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Harness.logger)
        var integrity = AuditIntegrity(store: store, key: key, clock: .system)
        let trail = AuditTrail(store: store, clock: .system, integrity: integrity)
        for index in 0..<12 {
            try await trail.record(
                .launchWorkspace, by: .system(onAccount: "usr-\(index)", email: nil), resource: ("workspace", "ws-\(index)"),
                details: ["n": "\(index)"])
        }
        let tenth = try #require(try await store.chain(from: 10, limit: 1).first?.seal)
        try await integrity.sign(.head, at: tenth)
        try await store.close()

        let connection = try await SQLiteFile.connection(path)
        for statement in tampering.statements { _ = try await connection.query(statement) }
        try await connection.close()

        store = try await SQLiteStore.open(path: path, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Harness.logger)
        integrity = AuditIntegrity(store: store, key: key, clock: .system)
        let report = try await integrity.verify(pageSize: 5)
        // Whatever was done, the trail still takes entries: no change is refused for it.
        let appended = try await store.append(Self.event(99))
        #expect(appended.seal?.seq == 13 || tampering == .deleteARow || tampering == .truncateBehindTheCheckpoint)
        try await store.close()
        switch (report, tampering.brokenAt) {
        case (.intact(let summary), nil):
            #expect(summary.entries == 12 && summary.lastCheckpoint?.seq == 10)
        case (.broken(let broken, let entries), let expected?):
            #expect(broken.seq == expected, "\(broken.problem)")
            #expect(entries <= (expected == 0 ? 12 : Int(expected) - 1))
        case (.intact, _?):
            Issue.record("\(tampering.rawValue) went unnoticed")
        case (.broken(let broken, _), nil):
            Issue.record("an untouched trail reported broken: \(broken.problem)")
        }
    }

    @Test("retention removes a whole old prefix behind a signed anchor; the kept chain verifies", arguments: StoreKind.allCases)
    func retentionRemovesAnAnchoredPrefix(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let integrity = AuditIntegrity(store: store, key: AuditSigningKey(), clock: .system)
            let now = Date()
            for index in 0..<20 { try await store.append(Self.event(index, at: now - 10 * 86_400 + Double(index))) }
            try await integrity.signHead()
            for index in 20..<30 { try await store.append(Self.event(index, at: now - 60 + Double(index))) }

            // Nothing a forwarding target has yet to take goes: here it has taken 12 entries.
            let held = try #require(try await integrity.applyRetention(before: now - 5 * 86_400, keepingFrom: 13))
            #expect(held.removed == 12 && held.through == 12)
            let applied = try #require(try await integrity.applyRetention(before: now - 5 * 86_400))
            #expect(applied.removed == 8 && applied.through == 20)
            #expect(try await store.chain(from: 1, limit: 100).map { $0.seal!.seq } == Array(21...30))
            let checkpoints = try await store.checkpoints()
            #expect(checkpoints.map(\.kind) == [.retention, .retention] && checkpoints.map(\.seq) == [12, 20])
            #expect(checkpoints.allSatisfy { $0.isSignatureValid })
            #expect(try await integrity.applyRetention(before: now - 5 * 86_400) == nil, "nothing more is old enough")
            #expect(try await store.append(Self.event(30)).seal?.seq == 31, "the chain goes on after the kept entries")
            try await integrity.signHead()
            guard case .intact(let summary) = try await integrity.verify() else {
                Issue.record("the kept chain does not verify")
                return
            }
            #expect(summary.firstSeq == 21 && summary.entries == 11)

            // Everything old: the newest entry stays, as the chain's head.
            let everything = try #require(try await integrity.applyRetention(before: now + 86_400))
            #expect(everything.through == 30)
            #expect(try await store.chain(from: 1, limit: 100).map { $0.seal!.seq } == [31])
            guard case .intact = try await integrity.verify() else {
                Issue.record("the chain kept after a second retention does not verify")
                return
            }
        }
    }

    @Test("MongoDB: a database from before the (timestamp, seq) order loses its old audit indexes on start")
    func oldAuditIndexesAreReplaced() async throws {
        var configuration = Configuration()
        configuration.dataDirectory = Harness.makeDirectory().path
        defer { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
        configuration.mongoURL = Secret(try await StoreKind.mongo.freshDatabaseURL())
        configuration.mongoTimeout = TestMongo.timeout
        func auditIndexNames(_ store: any Store) async throws -> Set<String> {
            let database = try #require(store as? MongoStore).database
            let reply = try await database.command(["listIndexes": .string("audit_logs")])
            let batch = reply["cursor"]?.document?["firstBatch"]?.array ?? []
            return Set(batch.compactMap { $0.document?["name"]?.string })
        }
        let first = try await Wiring.openStore(configuration, logger: Harness.logger)
        try await closing([first.close]) {
            let database = try #require(first as? MongoStore).database
            try await database.command([
                "createIndexes": .string("audit_logs"),
                "indexes": .array([
                    .document(["key": .document(["timestamp": .int(-1)]), "name": .string("timestamp")]),
                    .document(["key": .document(["user_id": .int(1), "timestamp": .int(-1)]), "name": .string("user_time")]),
                ]),
            ])
            #expect(try await auditIndexNames(first).isSuperset(of: ["timestamp", "user_time"]))
        }
        let second = try await Wiring.openStore(configuration, logger: Harness.logger, seeding: false)
        try await closing([second.close]) {
            let names = try await auditIndexNames(second)
            #expect(names.isDisjoint(with: ["timestamp", "user_time", "action_time"]))
            #expect(names.isSuperset(of: ["time_seq", "user_time_seq", "action_time_seq", "seq_unique"]))
        }
    }

    @Test("the signer refuses to sign over entries changed since its last checkpoint")
    func theSignerDoesNotSignAChangedChain() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("neosc.sqlite").path
        let store = try await SQLiteStore.open(path: path, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Harness.logger)
        let integrity = AuditIntegrity(store: store, key: AuditSigningKey(), clock: .system)
        for index in 0..<5 { try await store.append(Self.event(index)) }
        #expect(try await integrity.signHead()?.seq == 5)
        for index in 5..<9 { try await store.append(Self.event(index)) }
        let connection = try await SQLiteFile.connection(path)
        _ = try await connection.query("UPDATE audit_logs SET user_id = 'usr-admin' WHERE seq = 7")
        try await connection.close()
        await #expect(throws: AuditIntegrity.RefusedToSign.self) { try await integrity.signHead() }
        #expect(try await store.checkpoints().map(\.seq) == [5], "nothing signed over the changed entry")
        // Nor does retention anchor (and so launder) a changed prefix: nothing is removed.
        await #expect(throws: AuditIntegrity.RefusedToSign.self) { try await integrity.applyRetention(before: Date() + 60) }
        #expect(try await store.auditEntryCount() == 9)
        try await store.close()
    }

    @Test("MongoDB: an entry planted without seq is not sealed, but reported; a seq of another type stops nothing")
    func plantedMongoEntriesAreReported() async throws {
        try await Harness.withStore(.mongo) { store in
            let mongo = try #require(store as? MongoStore)
            for index in 0..<3 { try await store.append(Self.event(index)) }
            try await mongo.database.insert(
                "audit_logs",
                [
                    "_id": .string("aud-planted"), "timestamp": .date(Date()), "action": .string("login"), "details": .document([:]),
                    "success": .bool(true),
                ])
            try await mongo.database.insert(
                "audit_logs",
                [
                    "_id": .string("aud-odd"), "seq": .string("x"), "timestamp": .date(Date()), "action": .string("login"), "details": .document([:]),
                    "success": .bool(true),
                ])
            // Reopening (as a restart does) seals only what came before the chain, once.
            try await mongo.sealEntriesFromBeforeTheChain()
            #expect(try await mongo.database.findOne("audit_logs", ["_id": .string("aud-planted")])?["seq"] == nil)
            let next = try await store.append(Self.event(3))
            #expect(next.seal?.seq == 4, "a non-numeric seq is not taken for the head")
            #expect(try await store.chainHead()?.seq == 4)
            guard case .broken(let broken, let entries) = try await AuditIntegrity.verify(store, trusting: []) else {
                Issue.record("planted entries went unnoticed")
                return
            }
            #expect(broken.seq == 0 && entries == 4, "\(broken.problem)")
            #expect(broken.problem.contains("2 entries"))
        }
    }

    @Test("an embedded store from before the chain is sealed once, on upgrade, in its order")
    func entriesFromBeforeTheChainAreSealedOnUpgrade() async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try await SQLiteFile.migrated(in: directory)
        // As schema 6 left it: no chain columns, no checkpoints, and a gap in seq.
        let connection = try await SQLiteFile.connection(path)
        for (seq, id, action, resource) in [
            (1, "aud-a", "login", "NULL"), (2, "aud-b", "register", "'usr-registered'"), (5, "aud-c", "login", "NULL"),
        ] {
            _ = try await connection.query(
                """
                INSERT INTO audit_logs (seq, id, timestamp, action, resource_type, resource_id, details, success)
                VALUES (\(seq), '\(id)', \(1_795_509_000 + seq), '\(action)', 'user', \(resource), '{}', 1)
                """)
        }
        // Two accounts from before `self_registered`: one registered itself (its entry above), one not.
        for id in ["usr-registered", "usr-made"] {
            _ = try await connection.query(
                """
                INSERT INTO users (id, email, name, role, password_hash, mfa_enabled, disabled, created_at, updated_at)
                VALUES ('\(id)', '\(id)@example.com', 'U', 'user', 'x', 0, 0, 0, 0)
                """)
        }
        // A workspace as schema 6 kept it, with no stream upstream column.
        _ = try await connection.query(
            """
            INSERT INTO workspaces (id, name, type, description, status, cpu, memory, storage, url, connection_type,
                launch_mode, clientless, requires_netbird, allowed_roles, max_session_minutes, created_at, updated_at)
            VALUES ('ws-old', 'Old', 'linux', '', 'available', 2, 4, 20, '/old', 'vnc', 'iframe', 1, 0, '["admin"]', 60, 0, 0)
            """)
        for statement in [
            "ALTER TABLE audit_logs DROP COLUMN prev_hash", "ALTER TABLE audit_logs DROP COLUMN hash",
            "DROP TABLE audit_checkpoints", "DROP TABLE audit_forwarding", "DROP TABLE totp_enrollments",
            "DROP TABLE mfa_challenges", "ALTER TABLE policies DROP COLUMN kind", "ALTER TABLE policies DROP COLUMN scope",
            "ALTER TABLE policies DROP COLUMN settings", "ALTER TABLE sessions DROP COLUMN recording",
            "ALTER TABLE users DROP COLUMN netbird_peer_id", "DROP INDEX audit_user_action_timestamp",
            "ALTER TABLE tokens DROP COLUMN claims", "ALTER TABLE workspaces DROP COLUMN stream_upstream", "DROP TABLE stream_tickets",
            "DROP INDEX sessions_user_workspace", "DROP TRIGGER users_tally_insert", "DROP TRIGGER users_tally_delete",
            "DROP TRIGGER users_tally_update", "DROP TABLE user_tallies", "ALTER TABLE users DROP COLUMN self_registered",
            "ALTER TABLE users DROP COLUMN address_unverified",
            // Before typed policies the defaults were switches, the first two on.
            """
            INSERT INTO policies (id, name, description, category, enabled, weight, updated_at) VALUES
                ('pol-mfa-required', 'Require MFA', '', 'authentication', 1, 40, 0),
                ('pol-network-zero-trust', 'Zero Trust network access', '', 'network', 1, 35, 0),
                ('pol-session-recording', 'Session recording', '', 'monitoring', 1, 25, 0)
            """,
            "PRAGMA user_version = 6",
        ] {
            _ = try await connection.query(statement)
        }
        try await connection.close()

        let store = try await SQLiteStore.open(path: path, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Harness.logger)
        let chain = try await store.chain(from: 1, limit: 10)
        #expect(chain.map(\.id) == ["aud-a", "aud-b", "aud-c"])
        // Migration 10: the switches became typed rules; the two that now refuse are off.
        let upgraded = try await store.policies()
        #expect(upgraded.map(\.kind) == [.mfaRequired, .networkRequired, .sessionRecording])
        #expect(upgraded.map(\.enabled) == [false, false, true])
        #expect(upgraded.first?.scope.roles == [.admin, .neosc, .user])
        // Migration 13: workspaces stored before it have no stream upstream.
        let old = try #require(try await store.workspace(id: "ws-old"))
        #expect(old.name == "Old" && old.streamUpstream == nil)
        // Migration 17: an account with a `register` entry registered itself.
        #expect(try await store.user(id: "usr-registered")?.selfRegistered == true)
        #expect(try await store.user(id: "usr-made")?.selfRegistered == false)
        #expect(chain.map { $0.seal?.seq } == [1, 2, 3])
        let appended = try await store.append(Self.event(0))
        #expect(appended.seal?.seq == 4 && appended.seal?.prevHash == chain.last?.seal?.hash)
        guard case .intact = try await AuditIntegrity.verify(store, trusting: []) else {
            Issue.record("the upgraded trail must verify")
            try await store.close()
            return
        }
        try await store.close()
    }
}
