import Domain
import Foundation
import OrderedCollections

/// Values computed from the store and kept per key for `maxAge`, at most `capacity` of them (past
/// it, the oldest goes). For figures that may be a little old and cost many reads to compute.
///
/// One computation per key at a time: callers that find a key's value missing or too old while
/// it is being computed wait for that computation instead of starting their own (an
/// administrator's chart reads up to 200,000 entries; every dashboard view in the second it took
/// used to read them again).
public actor RecentValues<Key: Hashable & Sendable, Value: Sendable> {
    /// Oldest first: a value computed again moves to the end, so the first is the one to drop.
    private var values: OrderedDictionary<Key, (value: Value, at: Date)> = [:]
    /// The computations under way, which callers of the same key join.
    private var computing: [Key: Task<Value, any Error>] = [:]
    private let maxAge: TimeInterval
    private let capacity: Int
    private let clock: WallClock

    public init(maxAge: TimeInterval, capacity: Int = 1_000, clock: WallClock = .system) {
        precondition(capacity > 0)
        self.maxAge = maxAge
        self.capacity = capacity
        self.clock = clock
    }

    /// The value for `key` if it is younger than `maxAge`; otherwise `compute`'s (or that of the
    /// computation already under way for `key`), kept.
    public func value(for key: Key, computing compute: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let now = clock.now()
        if let kept = values[key], now.timeIntervalSince(kept.at) < maxAge { return kept.value }
        if let running = computing[key] { return try await running.value }
        let computation = Task { try await compute() }
        computing[key] = computation
        defer { computing[key] = nil }
        let computed = try await computation.value
        // The computed value moves to the end.
        values.removeValue(forKey: key)
        if values.count >= capacity { values.removeFirst() }
        values[key] = (computed, now)
        return computed
    }

    public var count: Int { values.count }
}
