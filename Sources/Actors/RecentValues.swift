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
public actor RecentValues<Key: Hashable & Sendable, Value: Sendable> {
    private var newer: [Key: (value: Value, at: Date)] = [:]
    private var older: [Key: (value: Value, at: Date)] = [:]
    /// When the values now in `older` stopped being added to: they are all stale `maxAge` later.
    private var olderClosed = Date.distantPast
    /// The computations under way, which callers of the same key join.
    private var computing: [Key: Task<Value, any Error>] = [:]
    private let maxAge: TimeInterval
    /// Per generation: the two together hold at most twice this.
    private let generationSize: Int
    private let clock: WallClock

    /// - Parameter capacity: the most values kept at once (at least 2).
    public init(maxAge: TimeInterval, capacity: Int = 1_000, clock: WallClock = .system) {
        precondition(capacity >= 2)
        self.maxAge = maxAge
        generationSize = capacity / 2
        self.clock = clock
    }

    /// The value for `key` if it is younger than `maxAge`; otherwise `compute`'s (or that of the
    /// computation already under way for `key`), kept.
    public func value(for key: Key, computing compute: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let now = clock.now()
        if !older.isEmpty, now.timeIntervalSince(olderClosed) >= maxAge { older = [:] }
        if let kept = newer[key] ?? older[key], now.timeIntervalSince(kept.at) < maxAge { return kept.value }
        if let running = computing[key] { return try await running.value }
        let computation = Task { try await compute() }
        computing[key] = computation
        defer { computing[key] = nil }
        let computed = try await computation.value
        older.removeValue(forKey: key)
        if newer[key] == nil, newer.count >= generationSize {
            older = newer
            olderClosed = clock.now()
            newer = [:]
            newer.reserveCapacity(generationSize)
        }
        newer[key] = (computed, now)
        return computed
    }

    public var count: Int { newer.count + older.count }
}
