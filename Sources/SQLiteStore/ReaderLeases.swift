import Domain
import Synchronization

/// The store's reader connections, each leased for one unit of work; callers that find none idle
/// wait and are served in arrival order.
///
/// Under a lock, not in an actor: a read that finds a connection idle (nearly every read) takes
/// it and gives it back without leaving its thread. In `SQLiteConnectionPool`, the actor, a lease
/// and a return were each a hop to the actor's executor and back; a dashboard view's two reads
/// were eight of its ten thread switches (docs/benchmarks.md).
final class ReaderLeases<Connection: Sendable>: Sendable {
    private struct State {
        var idle: [Connection]
        var waiters: [CheckedContinuation<Connection, any Error>] = []
        var closed = false
        /// Callers of `close`, waiting for the leased connections to come back.
        var draining: [CheckedContinuation<Void, Never>] = []

        var drained: Bool { closed && waiters.isEmpty && idle.count == total }
        let total: Int
    }

    private enum Outcome {
        case leased(Connection)
        case closed
        case wait
    }

    let connections: [Connection]
    private let state: Mutex<State>

    init(_ connections: [Connection]) {
        self.connections = connections
        state = Mutex(State(idle: connections, total: connections.count))
    }

    /// An idle connection, or the next one given back; throws once the store is closing.
    func lease() async throws -> Connection {
        let outcome: Outcome = state.withLock { state in
            if state.closed { return .closed }
            if let connection = state.idle.popLast() { return .leased(connection) }
            return .wait
        }
        switch outcome {
        case .leased(let connection): return connection
        case .closed: throw DomainError.unavailable("Store is closed")
        case .wait: break
        }
        return try await withCheckedThrowingContinuation { waiter in
            // Checked again: a connection may have come back, or the store closed, since.
            let outcome: Outcome = state.withLock { state in
                if state.closed { return .closed }
                if let connection = state.idle.popLast() { return .leased(connection) }
                state.waiters.append(waiter)
                return .wait
            }
            switch outcome {
            case .leased(let connection): waiter.resume(returning: connection)
            case .closed: waiter.resume(throwing: DomainError.unavailable("Store is closed"))
            case .wait: break
            }
        }
    }

    /// Callers waiting for a connection (for tests).
    var waiting: Int { state.withLock { $0.waiters.count } }

    /// Whether `close` has been called (for tests).
    var isClosed: Bool { state.withLock { $0.closed } }

    /// `connection` back from its lease: to the longest waiter, or idle.
    func release(_ connection: Connection) {
        let (waiter, draining) = state.withLock { state -> (CheckedContinuation<Connection, any Error>?, [CheckedContinuation<Void, Never>]) in
            if !state.waiters.isEmpty { return (state.waiters.removeFirst(), []) }
            state.idle.append(connection)
            guard state.drained else { return (nil, []) }
            defer { state.draining = [] }
            return (nil, state.draining)
        }
        waiter?.resume(returning: connection)
        for closing in draining { closing.resume() }
    }

    /// Refuses new leases and returns once every leased connection is back (callers already
    /// waiting are still served).
    func close() async {
        await withCheckedContinuation { draining in
            let done = state.withLock { state in
                state.closed = true
                if state.drained { return true }
                state.draining.append(draining)
                return false
            }
            if done { draining.resume() }
        }
    }
}
