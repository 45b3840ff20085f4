import Domain
import Foundation
import Synchronization

/// The policies every request is checked against, as one snapshot read under a lock (no actor
/// hop on the request path). The snapshot is reloaded from the store once it is `maxAge` old, or
/// at once after `invalidate()` (a change made by this process). One reload runs at a time; while
/// it runs, and when it fails, requests keep the previous snapshot (a store that stops answering
/// does not switch the policies off, nor fail every request); only a process that has none yet
/// waits for it.
public final class PolicyBook: Sendable {
    public struct Snapshot: Sendable {
        public let policies: [Policy]
        /// The enabled ones, in order: what requests are checked against.
        public let enabled: [Policy]

        public init(_ policies: [Policy]) {
            self.policies = policies
            self.enabled = policies.filter(\.enabled)
        }
    }

    private struct State {
        var snapshot: Snapshot?
        var loadedAt: Date?
        var generation: UInt64 = 0
        var reloading: Task<Snapshot, any Error>?
    }

    private let state = Mutex(State())
    private let maxAge: TimeInterval?
    private let clock: WallClock
    private let load: @Sendable () async throws -> [Policy]
    /// After a failed reload, how long the previous snapshot is served before the next attempt.
    private let retryAfterFailure: TimeInterval = 1

    /// - Parameters:
    ///   - maxAge: nil when this process makes every change to the policies.
    ///   - load: reads them from the store.
    public init(maxAge: TimeInterval?, clock: WallClock = .system, loading load: @escaping @Sendable () async throws -> [Policy]) {
        self.maxAge = maxAge
        self.clock = clock
        self.load = load
    }

    public func current() async throws -> Snapshot {
        let now = clock.now()
        let (ready, reload): (Snapshot?, Task<Snapshot, any Error>?) = state.withLock { state in
            if let snapshot = state.snapshot, let loadedAt = state.loadedAt,
                maxAge.map({ now.timeIntervalSince(loadedAt) < $0 }) ?? true
            {
                return (snapshot, nil)
            }
            if state.reloading == nil {
                let generation = state.generation
                state.reloading = Task { [self] in
                    do {
                        let loaded = Snapshot(try await load())
                        finish(generation: generation, at: now, with: loaded)
                        return loaded
                    } catch {
                        finish(generation: generation, at: now, with: nil)
                        throw error
                    }
                }
            }
            return (state.snapshot, state.reloading)
        }
        if let ready { return ready }
        return try await reload!.value
    }

    public func invalidate() {
        state.withLock { state in
            state.generation &+= 1
            state.snapshot = nil
            state.loadedAt = nil
            state.reloading = nil
        }
    }

    private func finish(generation: UInt64, at start: Date, with loaded: Snapshot?) {
        state.withLock { state in
            guard state.generation == generation else { return }
            state.reloading = nil
            if let loaded {
                state.snapshot = loaded
                state.loadedAt = start
            } else if state.snapshot != nil, let maxAge {
                // Keep serving the previous snapshot; try again shortly.
                state.loadedAt = clock.now().addingTimeInterval(retryAfterFailure - maxAge)
            }
        }
    }
}
