import Domain
import Foundation
import NIOPosix
import SQLiteNIO
import Services
import TestSupport
import Testing

@testable import App
@testable import MongoStore
@testable import SQLiteStore

/// Issue #14, atomic: a change and its audit entries commit together or not at all, on the
/// embedded store (one SQLite transaction), on a MongoDB replica set (a multi-document
/// transaction) and on a standalone MongoDB (a journaled change with its entries in its commit
/// record, and a recovery pass).
@Suite("A change and its entry commit together")
struct AtomicChangeTests {
    static func user(_ name: String) -> User { StoreConformanceTests.user("\(name)@atomic.example", role: .neosc) }

    @Test("a change that fails leaves neither the change nor its entry", arguments: StoreKind.allCases)
    func aFailedChangeLeavesNothing(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            if let mongo = store as? MongoStore { #expect(mongo.transactional == (kind == .mongo), "transactions on a replica set only") }
            let audit = AuditTrail(store: store, clock: .system)
            let owner = Self.user("owner")
            try await store.insert(owner, creating: nil)
            struct Refused: Error {}

            // Fails after both the change and its entry were written.
            let doomed = StoreConformanceTests.session(for: owner)
            await #expect(throws: Refused.self) {
                try await audit.change {
                    try await store.start(doomed, limit: 5)
                    try await audit.record(.launchWorkspace, by: .operator(via: "test"), details: ["session_id": doomed.id])
                    throw Refused()
                }
            }
            #expect(try await store.session(id: doomed.id) == nil, "the change was rolled back")
            #expect(try await store.chainHead() == nil, "and its entry with it")

            // The slot the failed launch claimed was rolled back too: the limit still admits one.
            let kept = StoreConformanceTests.session(for: owner)
            try await audit.change {
                try await store.start(kept, limit: 1)
                try await audit.record(.launchWorkspace, by: .operator(via: "test"), details: ["session_id": kept.id])
            }
            #expect(try await store.session(id: kept.id)?.status == .active)
            let entries = try await store.chain(from: 1, limit: 10)
            #expect(entries.map { $0.details["session_id"] } == [kept.id])
        }
    }

    /// A change whose task is cancelled partway (a request given up) still commits whole or not
    /// at all, and leaves nothing behind that the next change trips over: more of them than the
    /// MongoDB driver has clients (a skipped abort kept its client for good, and the driver's
    /// pool, once out of them, blocks every call), then an ordinary change.
    @Test(
        "a change cancelled partway is whole or nothing, and the store goes on", .timeLimit(.minutes(2)),
        arguments: StoreKind.allCases)
    func aCancelledChangeIsWholeOrNothing(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let audit = AuditTrail(store: store, clock: .system)
            let owner = Self.user("cancelled")
            try await store.insert(owner, creating: nil)
            @Sendable func launch(cancellingPartway: Bool) async throws -> String {
                let session = StoreConformanceTests.session(for: owner)
                try await audit.change {
                    try await store.start(session, limit: 100)
                    if cancellingPartway { withUnsafeCurrentTask { $0?.cancel() } }
                    try await audit.record(.launchWorkspace, by: .operator(via: "test"), details: ["session_id": session.id])
                }
                return session.id
            }
            var cancelled: [String] = []
            for _ in 0..<20 {
                let task = Task { () -> String? in
                    do { return try await launch(cancellingPartway: true) } catch { return nil }
                }
                if let id = await task.value { cancelled.append(id) }
            }
            let kept = try await launch(cancellingPartway: false)
            #expect(try await store.session(id: kept)?.status == .active)
            let entries = try await store.chain(from: 1, limit: 100)
            let entered = Set(entries.compactMap { $0.details["session_id"] })
            #expect(entered.contains(kept))
            for id in cancelled {
                #expect(entered.contains(id), "a cancelled change that reported success has its entry")
            }
            let sessions = try await store.sessions(userID: owner.id, status: nil, limit: 100)
            #expect(Set(sessions.map(\.id)) == entered, "a session exactly for each entry: none half-made")
        }
    }

    /// The embedded store's connections: a write is synced before it is acknowledged; savepoint and
    /// statement journals keep SQLite's default, a temporary file past 64 KiB (in memory they have
    /// no bound: retention deleting a large trail in one statement would hold every page it
    /// touched in memory).
    @Test func embeddedConnectionsSyncFullyAndSpillJournalsToFiles() async throws {
        try await SQLiteFile.withStore { store, _ in
            @Sendable func settings(_ connection: SQLiteConnection) async throws -> [String: Int] {
                var values: [String: Int] = [:]
                for name in ["temp_store", "synchronous"] {
                    values[name] = try await connection.rows("PRAGMA \(name)").first?.int(name)
                }
                return values
            }
            let reader = try await store.read(settings)
            let writer = try await store.write(.inSeveralStatements, settings)
            #expect(reader == ["temp_store": 0, "synchronous": 2], "a reader: DEFAULT and FULL")
            #expect(writer == ["temp_store": 0, "synchronous": 2], "the writer: DEFAULT and FULL")
        }
    }

    static func currentThread() -> UInt {
        #if canImport(Darwin)
        UInt(bitPattern: pthread_self())
        #else
        UInt(pthread_self())
        #endif
    }

    /// A change runs on the writer's own thread between its statements (`ThreadPoolTaskExecutor`):
    /// changes made at once, each awaiting several statements, all run on one thread, where on
    /// Swift's global executor they would resume on whichever of its threads is free.
    @Test func changesRunOnTheWritersThread() async throws {
        try await SQLiteFile.withStore { store, _ in
            let threads = try await withThrowingTaskGroup(of: [UInt].self) { group in
                for index in 0..<16 {
                    group.addTask {
                        try await store.write { connection in
                            var seen = [Self.currentThread()]
                            for step in 0..<3 {
                                try await connection.execute("SELECT ?", [.integer(index * 10 + step)])
                                seen.append(Self.currentThread())
                            }
                            return seen
                        }
                    }
                }
                return try await group.reduce(into: Set<UInt>()) { $0.formUnion($1) }
            }
            if #available(macOS 15.0, *) {
                #expect(threads.count == 1, "every change on one thread: \(threads.count)")
            }
            // The writer's thread stopped: a change is refused, not left waiting for it.
            try await store.close()
            await #expect(throws: DomainError.self) {
                try await store.write { try await $0.execute("SELECT 1") }
            }
        }
    }

    /// A change whose task is cancelled partway (a request given up) is undone whole, and one
    /// cancelled once its work is done commits; either way the writer's transaction is closed for
    /// the next change. (SQLiteNIO does not run a cancelled task's statements: without
    /// `executeEvenIfCancelled` the rollback and the commit were skipped, the writer passed on with
    /// its transaction open, and the next change failed with a 503.)
    @Test func aCancelledChangeLeavesTheWriterClean() async throws {
        try await SQLiteFile.withStore { store, _ in
            try await store.write { try await $0.execute("CREATE TABLE scratch (value TEXT)") }
            @Sendable func insert(_ value: String, on connection: SQLiteConnection) async throws {
                try await connection.execute("INSERT INTO scratch (value) VALUES (?)", [.text(value)])
            }
            @Sendable func cancelThisTask() { withUnsafeCurrentTask { $0?.cancel() } }
            let partway = await Task {
                try await store.write { connection in
                    try await insert("partway-first", on: connection)
                    cancelThisTask()
                    try await insert("partway-second", on: connection)
                }
            }.result
            #expect(throws: CancellationError.self) { try partway.get() }
            let done = await Task {
                try await store.write { connection in
                    try await insert("done", on: connection)
                    cancelThisTask()
                }
            }.result
            #expect(throws: Never.self) { try done.get() }
            try await store.write { try await insert("next", on: $0) }
            let values = try await store.read { try await $0.rows("SELECT value FROM scratch ORDER BY value") }
            #expect(try values.map { try $0.string("value") } == ["done", "next"], "the partway change undone whole")
        }
    }

    /// A shutdown past its grace period cancels the task that closes the store: the connections
    /// are closed all the same (SQLiteNIO's async `close()` is skipped in a cancelled task).
    @Test func theEmbeddedStoreClosesInACancelledTask() async throws {
        try await SQLiteFile.withStore { store, _ in
            let closing = await Task {
                withUnsafeCurrentTask { $0?.cancel() }
                try await store.close()
            }.result
            #expect(throws: Never.self) { try closing.get() }
            await #expect(throws: DomainError.self, "closed") { try await store.write { try await $0.execute("SELECT 1") } }
        }
    }

    /// Group commit on the embedded store (issue #16): changes that wait for the writer while a
    /// transaction is open join it, and the last one commits for all; each still commits whole or
    /// not at all, and none is acknowledged before the commit.
    @Test func changesThatArriveTogetherShareOneCommit() async throws {
        try await SQLiteFile.withStore(groupCommit: .init(maximumChanges: 64, maximumDuration: .seconds(3_600))) { store, _ in
            try await Self.shareOneCommit(store)
        }
    }

    static func shareOneCommit(_ store: SQLiteStore) async throws {
        let audit = AuditTrail(store: store, clock: .system)
        let owner = Self.user("grouped")
        try await store.insert(owner, creating: nil)
        let commitsBefore = await store.commits
        struct Refused: Error {}
        func launch(
            failing: Bool, hold: AsyncStream<Void>? = nil, entered: AsyncStream<Void>.Continuation? = nil
        )
            async throws -> String
        {
            let session = StoreConformanceTests.session(for: owner)
            try await audit.change {
                try await store.start(session, limit: 100)
                try await audit.record(.launchWorkspace, by: .operator(via: "test"), details: ["session_id": session.id])
                entered?.yield()
                if let hold { for await _ in hold { break } }
                if failing { throw Refused() }
            }
            return session.id
        }
        // The first change holds the writer, its work done, until twelve more wait for it.
        let (entered, enteredSignal) = AsyncStream<Void>.makeStream()
        let (hold, release) = AsyncStream<Void>.makeStream()
        let first = Task { try await launch(failing: false, hold: hold, entered: enteredSignal) }
        for await _ in entered { break }
        let others = (0..<12).map { index in
            Task { () -> String? in try? await launch(failing: index.isMultiple(of: 3)) }
        }
        #expect(try await eventually { await store.waitingForTheWriter == 12 })
        #expect(await store.commits == commitsBefore, "nothing is committed while the transaction is open")
        release.yield()
        let firstID = try await first.value
        var launched = [firstID]
        for task in others { if let id = await task.value { launched.append(id) } }

        #expect(launched.count == 9, "the eight that did not fail, and the first")
        #expect(await store.commits == commitsBefore + 1, "one commit for all of them")
        for id in launched { #expect(try await store.session(id: id)?.status == .active) }
        let entries = try await store.chain(from: 1, limit: 100)
        #expect(Set(entries.compactMap { $0.details["session_id"] }) == Set(launched), "an entry for each, none for the failed")
        #expect(entries.map { $0.seal!.seq } == Array(1...Int64(launched.count)), "and no gap where they were")
        guard case .intact = try await AuditIntegrity.verify(store, trusting: []) else {
            Issue.record("the chain must verify")
            return
        }
    }

    /// Launches by one user all claim a slot in the same document: on MongoDB their transactions
    /// conflict and run again. Every launch the limit admits commits with exactly its entry, and
    /// every refused one leaves neither.
    @Test("racing changes on one document each commit whole or not at all", arguments: StoreKind.allCases)
    func racingChangesCommitWholeOrNotAtAll(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let audit = AuditTrail(store: store, clock: .system)
            let owner = Self.user("racer")
            try await store.insert(owner, creating: nil)
            let limit = 6
            let outcomes = await withTaskGroup(of: (String, Bool).self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        let session = StoreConformanceTests.session(for: owner)
                        do {
                            try await audit.change {
                                try await store.start(session, limit: limit)
                                try await audit.record(.launchWorkspace, by: .operator(via: "test"), details: ["session_id": session.id])
                            }
                            return (session.id, true)
                        } catch let refusal as DomainError where refusal == .sessionLimitReached(limit) {
                            return (session.id, false)
                        } catch {
                            Issue.record("only the limit may refuse a launch: \(error)")
                            return (session.id, false)
                        }
                    }
                }
                return await group.reduce(into: [(String, Bool)]()) { $0.append($1) }
            }
            let launched = Set(outcomes.filter(\.1).map(\.0))
            #expect(launched.count == limit, "the limit admits exactly \(limit)")
            let stored = Set(try await store.sessions(userID: owner.id, status: .active, limit: 100).map(\.id))
            #expect(stored == launched)
            let entries = try await store.chain(from: 1, limit: 100)
            #expect(Set(entries.compactMap { $0.details["session_id"] }) == launched)
            #expect(entries.count == limit, "one entry per launch")
            let report = try await AuditIntegrity.verify(store, trusting: [])
            guard case .intact = report else {
                Issue.record("the chain does not verify: \(report)")
                return
            }
        }
    }

    /// Two replicas on one database append in transactions at once: an entry that meets the
    /// other's `seq` restarts its change, and the chain stays gap-free and linear.
    @Test("two replicas' changes keep one linear chain", arguments: [StoreKind.mongo, .mongoStandalone])
    func twoReplicasKeepOneChain(_ kind: StoreKind) async throws {
        try await AuditChainStoreTests.withTwoStores(kind) { first, second in
            let now = Date()
            await withThrowingTaskGroup(of: Void.self) { group in
                for (replica, store) in [first, second].enumerated() {
                    let audit = AuditTrail(store: store, clock: .system)
                    for index in 0..<12 {
                        group.addTask {
                            try await audit.change {
                                try await store.insert(
                                    AccessToken(
                                        digest: "r\(replica)-\(index)", userID: "usr-\(replica)", issuedAt: now, expiresAt: now + 600,
                                        mfaVerified: false))
                                try await audit.record(.login, by: .operator(via: "test"), details: ["token": "r\(replica)-\(index)"])
                            }
                        }
                    }
                }
                while let result = await group.nextResult() {
                    if case .failure(let error) = result { Issue.record("a change failed: \(error)") }
                }
            }
            let entries = try await first.chain(from: 1, limit: 100)
            #expect(entries.map { $0.seal!.seq } == Array(1...24))
            for entry in entries {
                let digest = try #require(entry.details["token"])
                #expect(try await first.token(digest: digest) != nil, "entry \(digest) names a stored token")
            }
            let report = try await AuditIntegrity.verify(first, trusting: [])
            guard case .intact = report else {
                Issue.record("the chain does not verify: \(report)")
                return
            }
        }
    }

    /// A standalone server's change whose process stops answering (as a crash leaves it) is
    /// undone by another process's recovery pass once its lease has passed, and then cannot
    /// commit: neither the change nor its entry is there.
    @Test("standalone: an abandoned change is undone after its lease, and cannot commit after")
    func anAbandonedChangeIsUndone() async throws {
        let url = try await StoreKind.mongoStandalone.freshDatabaseURL()
        // Long enough for a loaded machine to make the change's writes within half of it: the
        // recovery below is asked for a moment past it rather than waiting it out.
        let lease = Duration.seconds(600)
        let options = MongoStore.Options(timeout: .seconds(Int(TestMongo.timeout)), changeLease: lease)
        let stalled = try await MongoStore.open(url: url, options: options, logger: Harness.logger)
        let recovering = try await MongoStore.open(url: url, options: options, logger: Harness.logger)
        try await closing([stalled.close, recovering.close]) {
            try await abandonAndRecover(stalled: stalled, recovering: recovering)
        }
    }

    private func abandonAndRecover(stalled: MongoStore, recovering: MongoStore) async throws {
        #expect(!stalled.transactional)
        let owner = Self.user("abandoned")
        try await stalled.insert(owner, creating: nil)
        let session = StoreConformanceTests.session(for: owner)
        let (resumed, resume) = AsyncStream.makeStream(of: Void.self)
        let (written, wrote) = AsyncStream.makeStream(of: Void.self)
        let change = Task {
            defer { wrote.finish() }  // a change that fails early must not leave the test waiting
            try await AuditTrail(store: stalled, clock: .system).change {
                try await stalled.start(session, limit: 5)
                try await stalled.append(AuditChainStoreTests.event(1))
                wrote.yield()
                for await _ in resumed { break }  // the process "hangs" here
            }
        }
        for await _ in written { break }
        #expect(try await recovering.session(id: session.id) != nil, "written, not yet committed")
        #expect(try await recovering.finishInterruptedChanges(at: Date()).undone.isEmpty, "not before its lease has passed")
        // Another change may not write what an open change wrote (undoing either would undo the other's write).
        await #expect(throws: DomainError.unavailable("Another change to this record is in progress; try again")) {
            try await AuditTrail(store: recovering, clock: .system).change {
                _ = try await recovering.end(id: session.id, .stopped, at: Date())
            }
        }

        let report = try await recovering.finishInterruptedChanges(at: Date() + 601)
        #expect(report.undone.count == 1 && report.undone.first?.writes ?? 0 >= 2, "the slot claim and the insert: \(report)")
        #expect(try await recovering.session(id: session.id) == nil)
        #expect(try await recovering.sessions(userID: owner.id, status: .active, limit: 10).isEmpty)
        // Kept a day as `undone`, so that the change's own process learns what became of it.
        let undone = try #require(report.undone.first?.id)
        #expect(try await recovering.database.journalState(undone) == "undone")

        resume.yield()
        await #expect(throws: DomainError.self, "a change undone cannot commit") { try await change.value }
        #expect(try await recovering.session(id: session.id) == nil)
        #expect(try await recovering.chainHead() == nil, "and its entry never reached the chain")
        // The undone slot claim left the limit whole.
        try await recovering.start(StoreConformanceTests.session(for: owner), limit: 1)
    }

    /// A standalone server's change that committed (its journal holds its entries) but whose
    /// process died before appending them: the recovery pass appends each exactly once.
    @Test("standalone: the entries of a committed change are published once")
    func committedEntriesArePublishedOnce() async throws {
        let url = try await StoreKind.mongoStandalone.freshDatabaseURL()
        let store = try await MongoStore.open(
            url: url, options: .init(timeout: .seconds(Int(TestMongo.timeout)), changeLease: .seconds(600)), logger: Harness.logger)
        do {
            let owner = Self.user("committed")
            try await store.insert(owner, creating: nil)
            let session = StoreConformanceTests.session(for: owner)
            // The journaled change up to its commit point, and no further (as a crash leaves it).
            let journal = try await store.database.beginChange(lease: .seconds(600))
            try await ChangeJournal.$current.withValue(journal) {
                try await store.start(session, limit: 5)
                try await store.append(AuditChainStoreTests.event(7))
            }
            #expect(try await store.chainHead() == nil, "the entry waits in the journal")
            try await store.database.commit(journal, entries: journal.close())

            let report = try await store.finishInterruptedChanges(at: Date() + 601)
            #expect(report.published == 1 && report.undone.isEmpty)
            #expect(try await store.database.journalState(journal.id) == "published")
            #expect(try await store.session(id: session.id)?.status == .active, "a committed change stands")
            let entries = try await store.chain(from: 1, limit: 10)
            #expect(entries.map { $0.details["session_id"] } == ["ses-7"])
            #expect(try await store.finishInterruptedChanges(at: Date() + 601) == InterruptedChanges(), "nothing left")
            #expect(try await store.chain(from: 1, limit: 10).count == 1)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }
}
