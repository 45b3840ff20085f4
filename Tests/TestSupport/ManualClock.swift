import Domain
import Foundation
import Synchronization

/// A clock the test moves by hand. Whatever sleeps on it (the expiry scheduler's loop) wakes
/// when `advance` passes its deadline, never because real time went by, so a test of deadlines
/// gives the same result on an idle machine and on two starved cores.
///
/// Its moments lie ahead of any real clock. A database's TTL monitor runs on the server's real
/// clock: MongoDB removes a token a day, a sign-in challenge an hour, after its `expires_at`, and
/// a manual clock in the past (it once started in 2023) let the monitor take what a test had just
/// stored whenever its minutely pass fell in the middle of the test.
public final class ManualClock: Sendable {
    /// Tuesday 13 July 2100, 22:13:20 UTC: where a test starts unless it needs another moment.
    public static let start = Date(timeIntervalSince1970: 4_119_200_000)

    private struct Sleeper {
        let id: Int
        let deadline: Date
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Date
        var sleepers: [Sleeper] = []
        var cancelled: Set<Int> = []
        var nextID = 0
    }

    private let state: Mutex<State>

    public init(_ start: Date = ManualClock.start) {
        state = Mutex(State(now: start))
    }

    public var now: Date { state.withLock { $0.now } }

    public var wallClock: WallClock {
        WallClock({ self.now }, sleepUntil: { try await self.sleep(until: $0) })
    }

    /// The deadlines of everything sleeping on the clock now.
    public var sleepingUntil: [Date] { state.withLock { $0.sleepers.map(\.deadline) } }

    /// Moves the clock on by `seconds`, waking every sleeper whose deadline it reaches.
    public func advance(_ seconds: TimeInterval) {
        advance(to: now + seconds)
    }

    public func advance(to time: Date) {
        state.withLock { state in
            state.now = max(state.now, time)
            let now = state.now
            for sleeper in state.sleepers where sleeper.deadline <= now { sleeper.continuation.resume() }
            state.sleepers.removeAll { $0.deadline <= now }
        }
    }

    public func sleep(until deadline: Date) async throws {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                state.withLock { state in
                    if state.cancelled.remove(id) != nil {
                        continuation.resume(throwing: CancellationError())
                    } else if deadline <= state.now {
                        continuation.resume()
                    } else {
                        state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    }
                }
            }
        } onCancel: {
            state.withLock { state in
                if let index = state.sleepers.firstIndex(where: { $0.id == id }) {
                    state.sleepers.remove(at: index).continuation.resume(throwing: CancellationError())
                } else {
                    state.cancelled.insert(id)
                }
            }
        }
    }
}
