import Domain
import Foundation
import Logging
import Services
import TestSupport
import Testing

@testable import MongoStore

/// The MongoDB pool never lets a backlog outlive its callers.
@Suite struct MongoPoolTests {
    /// One connection, a 50 ms queue budget, 2,000 concurrent calls of about 70 µs each: the tail of
    /// the queue cannot start in time and must be refused at once.
    @Test func callsThatCannotStartInTimeAreRefusedNotQueued() async throws {
        let url = try await TestMongo.shared.freshDatabaseURL()
        let store = try await MongoStore.open(
            url: url, options: .init(poolSize: 1, timeout: .seconds(5), queueTimeout: .milliseconds(50)),
            logger: Harness.logger)
        // On an idle pool a call starts at once and is served.
        try await store.ping()
        let started = ContinuousClock.now
        let outcomes = await withTaskGroup(of: Bool?.self) { group in
            for _ in 0..<2_000 {
                group.addTask {
                    do {
                        try await store.ping()
                        return true
                    } catch DomainError.unavailable {
                        return false
                    } catch {
                        return nil
                    }
                }
            }
            return await group.reduce(into: [Bool?]()) { $0.append($1) }
        }
        let elapsed = ContinuousClock.now - started
        try await store.close()
        #expect(!outcomes.contains(nil), "only successes and 503-style refusals")
        #expect(outcomes.contains(false), "a backlog beyond the timeout is refused")
        // Only a hang is caught here: the suite shares two cores with everything else running (a
        // clean-clone run, with store tests on three stores at once, took 20.7 s for 4,000 calls).
        // (65 s seen beside the whole suite on a slow day.)
        #expect(elapsed < .seconds(120), "2,000 calls on one connection do not hang: \(elapsed)")
    }

    /// Closing the store while a change's transaction is open waits for it to end (its next call
    /// finds the store closed, and it is aborted, its client given back), instead of stopping
    /// the driver's threads under it, which dropped its abort and destroyed the driver's pool
    /// with the client still out.
    @Test(.timeLimit(.minutes(2))) func closingWaitsForAnOpenTransaction() async throws {
        let url = try await TestMongo.shared.freshDatabaseURL()
        let store = try await MongoStore.open(url: url, options: .init(poolSize: 2, timeout: .seconds(30)), logger: Harness.logger)
        #expect(store.transactional, "SecantusDB's default is a replica set")
        let owner = AtomicChangeTests.user("closing")
        try await store.insert(owner, creating: nil)
        let audit = AuditTrail(store: store, clock: .system)
        let (entered, enteredSignal) = AsyncStream<Void>.makeStream()
        let (hold, release) = AsyncStream<Void>.makeStream()
        let change = Task {
            try await audit.change {
                try await store.start(StoreConformanceTests.session(for: owner), limit: 100)
                enteredSignal.yield()
                for await _ in hold { break }
                try await audit.record(.launchWorkspace, by: .operator(via: "test"), details: [:])
            }
        }
        for await _ in entered { break }
        let closing = Task { try await store.close() }
        // Once the close has begun (it then waits for the transaction), the change goes on.
        #expect(try await eventually { await store.database.pool.closed })
        release.yield()
        await #expect(throws: DomainError.self, "the change finds the store closed") { try await change.value }
        try await closing.value
    }
}
