import Domain
import Synchronization
import TestSupport
import Testing

@testable import SQLiteStore

/// The embedded store's reader connections under a lock (`ReaderLeases`): every caller gets one,
/// in arrival order when they have to wait, and closing waits for those leased.
@Suite("Reader leases")
struct ReaderLeasesTests {
    @Test("callers that wait are served in arrival order, each with a connection given back")
    func waitersAreServedInArrivalOrder() async throws {
        let leases = ReaderLeases(["only"])
        let held = try await leases.lease()
        let served = Recorded<[Int]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<5 {
                group.addTask {
                    let connection = try await leases.lease()
                    #expect(connection == "only")
                    served.value.withLock { $0.append(caller) }
                    leases.release(connection)
                }
                // The next caller starts once this one waits.
                #expect(try await eventually { leases.waiting == caller + 1 })
            }
            leases.release(held)
            try await group.waitForAll()
        }
        #expect(served.value.withLock { $0 } == [0, 1, 2, 3, 4])
        #expect(leases.waiting == 0)
        // Everything came back: a lease is immediate again.
        #expect(try await leases.lease() == "only")
    }

    @Test("closing refuses new leases, still serves those waiting, and returns once all are back")
    func closingWaitsForLeasedConnections() async throws {
        let leases = ReaderLeases(["a", "b"])
        let first = try await leases.lease()
        let second = try await leases.lease()
        let waiter = Task { try await leases.lease() }
        #expect(try await eventually { leases.waiting == 1 })

        let closed = Recorded(false)
        let closing = Task {
            await leases.close()
            closed.value.withLock { $0 = true }
        }
        // Polled, not slept: a lease asked for before the close began would wait, not throw.
        #expect(try await eventually { leases.isClosed })
        await #expect(throws: DomainError.self) { try await leases.lease() }
        #expect(!closed.value.withLock { $0 })

        leases.release(first)
        let handedOn = try await waiter.value
        #expect(handedOn == first, "the caller waiting before the close is served")
        leases.release(second)
        try await Task.sleep(for: .milliseconds(100))
        #expect(!closed.value.withLock { $0 }, "one connection is still leased")
        leases.release(handedOn)
        await closing.value
        #expect(closed.value.withLock { $0 })
    }

    @Test("closing with nothing leased returns at once")
    func closingIdle() async throws {
        let leases = ReaderLeases(["a"])
        await leases.close()
        await leases.close()
        await #expect(throws: DomainError.self) { try await leases.lease() }
    }
}

/// A value tasks share.
private final class Recorded<Value: Sendable>: Sendable {
    let value: Mutex<Value>

    init(_ value: Value) {
        self.value = Mutex(value)
    }
}
