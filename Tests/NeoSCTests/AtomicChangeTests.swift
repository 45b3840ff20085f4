import Domain
import Foundation
import Services
import Testing

@testable import App
@testable import MongoStore

/// Issue #14, atomic: a change and its audit entries commit together or not at all, on the
/// embedded store (one SQLite transaction) and on MongoDB (a multi-document transaction;
/// SecantusDB is a single-node replica set, as `mongo:7` is in the compose stack).
@Suite("A change and its entry commit together")
struct AtomicChangeTests {
    static func user(_ name: String) -> User { StoreConformanceTests.user("\(name)@atomic.example", role: .neosc) }

    @Test("a change that fails leaves neither the change nor its entry", arguments: StoreKind.allCases)
    func aFailedChangeLeavesNothing(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            if let mongo = store as? MongoStore { #expect(mongo.transactional, "SecantusDB is a replica set: transactions") }
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
    @Test("two replicas' transactions keep one linear chain")
    func twoReplicasKeepOneChain() async throws {
        try await AuditChainStoreTests.withTwoStores(.mongo) { first, second in
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

    /// A standalone MongoDB has no transactions: NeoSC says so (and logs a warning at start-up,
    /// docs/audit.md) and runs a change's steps in order, each atomic on its own.
    @Test("a standalone server is known to have no transactions, and changes still work")
    func aStandaloneServerRunsStepsInOrder() async throws {
        let server = try SecantusServer(standalone: true)
        defer { server.remove() }
        try await server.start()
        let store = try await MongoStore.open(url: "\(server.url)/neosc_standalone", logger: Harness.logger)
        do {
            #expect(!store.transactional)
            let audit = AuditTrail(store: store, clock: .system)
            let owner = Self.user("standalone")
            try await store.insert(owner, creating: nil)
            let session = StoreConformanceTests.session(for: owner)
            try await audit.change {
                try await store.start(session, limit: 2)
                try await audit.record(.launchWorkspace, by: .operator(via: "test"), details: ["session_id": session.id])
            }
            #expect(try await store.session(id: session.id)?.status == .active)
            #expect(try await store.chain(from: 1, limit: 10).map { $0.details["session_id"] } == [session.id])
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
        await server.stop()
    }
}
