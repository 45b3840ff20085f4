import Domain
import Foundation

/// Values computed from the store and kept per key for `maxAge`, at most `capacity` of them (past
/// it, the oldest go). For figures that may be a little old and cost many reads to compute.
///
/// Two generations, as in `UnchangingValues`: a value is kept in the newer; when the newer holds
/// half the capacity, the older is dropped whole and the newer takes its place; and once every
/// value in the older has outlived `maxAge`, it is dropped too. No step scans or shifts the values
/// (an ordered dictionary's `removeFirst` moved every other entry on each computation past the
/// capacity).
///
/// One computation per key at a time: callers that find a key's value missing or too old while
/// it is being computed wait for that computation instead of starting their own (an
/// administrator's chart reads up to 200,000 entries; every dashboard view in the second it took
/// used to read them again).
///
/// A value past `maxAge` but within `servedStale` after it is still answered, and a computation
/// of the key's next value starts beside it (stale while revalidating): a caller who asks often
/// never waits for a recomputation (a dashboard view that computed its chart waited for one more
/// read of the store, and such views were the page's slowest percent: issue #12). Only a value
/// older than both, or none, is waited for.
public actor RecentValues<Key: Hashable & Sendable, Value: Sendable> {
    private var newer: [Key: (value: Value, at: Date)] = [:]
    private var older: [Key: (value: Value, at: Date)] = [:]
    /// When the values now in `older` stopped being added to: they are all past use
    /// `maxAge + servedStale` later.
    private var olderClosed = Date.distantPast
    /// The computations under way, which callers of the same key join.
    private var computing: [Key: Task<Value, any Error>] = [:]
    private let maxAge: TimeInterval
    private let servedStale: TimeInterval
    /// Per generation: the two together hold at most twice this.
    private let generationSize: Int
    private let clock: WallClock
    /// Told of a computation begun beside a stale answer that failed: no caller waits for it, so
    /// nobody else hears of it (the stale value goes on being answered until it is too old).
    /// Once per key until one of its computations succeeds: every view during an outage would
    /// otherwise tell of it again.
    private let backgroundFailure: (@Sendable (Key, any Error) -> Void)?
    /// The keys whose failure was told of and that have not been computed since.
    private var failing: Set<Key> = []

    /// - Parameters:
    ///   - servedStale: how long past `maxAge` a value is still answered while the next is computed.
    ///   - capacity: the most values kept at once (at least 2).
    ///   - backgroundFailure: told of a failed computation begun beside a stale answer, once per
    ///     key until one succeeds (a caller who waited for a computation gets its error too).
    public init(
        maxAge: TimeInterval, servedStale: TimeInterval = 0, capacity: Int = 1_000, clock: WallClock = .system,
        backgroundFailure: (@Sendable (Key, any Error) -> Void)? = nil
    ) {
        precondition(capacity >= 2 && servedStale >= 0)
        self.maxAge = maxAge
        self.servedStale = servedStale
        generationSize = capacity / 2
        self.clock = clock
        self.backgroundFailure = backgroundFailure
    }

    /// The value for `key` if it is younger than `maxAge`; otherwise `compute`'s (or that of the
    /// computation already under way for `key`), kept. A value younger than `maxAge +
    /// servedStale` is answered at once, its successor computed beside it.
    public func value(for key: Key, computing compute: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let now = clock.now()
        if !older.isEmpty, now.timeIntervalSince(olderClosed) >= maxAge + servedStale {
            older = [:]
            forgetFailuresOfDroppedKeys()
        }
        if let kept = newer[key] ?? older[key] {
            let age = now.timeIntervalSince(kept.at)
            if age < maxAge { return kept.value }
            if age < maxAge + servedStale {
                if computing[key] == nil { computing[key] = start(key, compute, at: now, inBackground: true) }
                return kept.value
            }
        }
        if let running = computing[key] { return try await running.value }
        let computation = start(key, compute, at: now)
        computing[key] = computation
        return try await computation.value
    }

    /// A computation of `key`'s value begun `at`, which keeps its value (aged from `at`) when done;
    /// `inBackground`: begun beside a stale answer, its failure is told to `backgroundFailure`.
    private func start(
        _ key: Key, _ compute: @escaping @Sendable () async throws -> Value, at began: Date, inBackground: Bool = false
    ) -> Task<Value, any Error> {
        Task {
            let outcome: Result<Value, any Error>
            do {
                outcome = .success(try await compute())
            } catch {
                outcome = .failure(error)
                if inBackground, failing.insert(key).inserted { backgroundFailure?(key, error) }
            }
            finish(key, outcome, began: began)
            return try outcome.get()
        }
    }

    /// A computation ended: its value is kept (a failure keeps what was there).
    private func finish(_ key: Key, _ outcome: Result<Value, any Error>, began: Date) {
        computing[key] = nil
        guard case .success(let computed) = outcome else { return }
        failing.remove(key)
        older.removeValue(forKey: key)
        if newer[key] == nil, newer.count >= generationSize {
            older = newer
            olderClosed = clock.now()
            newer = [:]
            newer.reserveCapacity(generationSize)
            forgetFailuresOfDroppedKeys()
        }
        newer[key] = (computed, began)
    }

    /// A key told of fails only beside a value kept for it: once that value is let go (a key not
    /// asked for within two generations), so is the key, which would otherwise stay for good.
    private func forgetFailuresOfDroppedKeys() {
        guard !failing.isEmpty else { return }
        failing = failing.filter { newer[$0] != nil || older[$0] != nil }
    }

    public var count: Int { newer.count + older.count }

    /// Keys whose background failure was told of and not yet followed by a success (for tests).
    public var failingKeys: Int { failing.count }

    /// Computations under way (for tests).
    public var computations: Int { computing.count }
}
