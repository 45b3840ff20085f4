import Domain
import Foundation
import Synchronization

/// The policies every request is checked against, as one snapshot read under a lock (no actor
/// hop on the request path).
///
/// - Within half `maxAge` of its load the snapshot answers at once.
/// - Up to `maxAge` old, it still answers while one reload runs in the background (a busy
///   process never waits for the store).
/// - Older than that, or after `invalidate()` (a change made by this process), callers wait for
///   the reload, so a change made elsewhere applies within `maxAge` (`NEOSC_CACHE_TTL`, as the
///   issue of policies promises) however idle the process was, and one made here at once. Ages
///   count from the start of the load that read the snapshot.
/// - When a reload fails (the store is unavailable), the previous snapshot keeps answering, and
///   the reload is tried again a second later: a store outage does not switch the policies off,
///   nor fail every request. Only a process that never loaded them fails.
/// - A reload still running after `stuckAfter` is given up and another started.
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
        /// When `snapshot` was loaded; nil once invalidated (it is then only a fallback).
        var loadedAt: Date?
        var generation: UInt64 = 0
        var reloading: Task<Snapshot, any Error>?
        var reloadStarted: Date?
        /// No reload before this, after a failed one.
        var retryAt: Date?
    }

    private let state = Mutex(State())
    private let maxAge: TimeInterval?
    private let clock: WallClock
    private let load: @Sendable () async throws -> [Policy]
    private let stuckAfter: TimeInterval = 10

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
        let (ready, reload, fallback): (Snapshot?, Task<Snapshot, any Error>?, Snapshot?) = state.withLock { state in
            let age = state.loadedAt.map { now.timeIntervalSince($0) }
            if let snapshot = state.snapshot, let age, age < (maxAge.map { $0 / 2 } ?? .infinity) { return (snapshot, nil, nil) }
            let coolingDown = state.retryAt.map { now < $0 } ?? false
            if let snapshot = state.snapshot, coolingDown { return (snapshot, nil, nil) }
            let stuck = state.reloadStarted.map { now.timeIntervalSince($0) > stuckAfter } ?? false
            if state.reloading == nil || stuck {
                // A stuck reload that finishes after all must not overwrite what its successor loads.
                if stuck { state.generation &+= 1 }
                let generation = state.generation
                state.reloadStarted = now
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
            if let snapshot = state.snapshot, let age, let maxAge, age < maxAge { return (snapshot, nil, nil) }
            return (nil, state.reloading, state.snapshot)
        }
        if let ready { return ready }
        do {
            return try await reload!.value
        } catch {
            if let fallback { return fallback }
            throw error
        }
    }

    public func invalidate() {
        state.withLock { state in
            state.generation &+= 1
            state.loadedAt = nil
            state.reloading = nil
            state.reloadStarted = nil
            state.retryAt = nil
        }
    }

    private func finish(generation: UInt64, at start: Date, with loaded: Snapshot?) {
        state.withLock { state in
            guard state.generation == generation else { return }
            state.reloading = nil
            state.reloadStarted = nil
            if let loaded {
                state.snapshot = loaded
                state.loadedAt = start
                state.retryAt = nil
            } else {
                state.retryAt = clock.now().addingTimeInterval(1)
            }
        }
    }
}
