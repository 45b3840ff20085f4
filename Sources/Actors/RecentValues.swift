import Domain
import Foundation
import OrderedCollections

/// Values computed from the store and kept per key for `maxAge`, at most `capacity` of them (past
/// it, the oldest goes). For figures that may be a little old and cost many reads to compute.
public actor RecentValues<Key: Hashable & Sendable, Value: Sendable> {
    /// Oldest first: a value computed again moves to the end, so the first is the one to drop.
    private var values: OrderedDictionary<Key, (value: Value, at: Date)> = [:]
    private let maxAge: TimeInterval
    private let capacity: Int
    private let clock: WallClock

    public init(maxAge: TimeInterval, capacity: Int = 1_000, clock: WallClock = .system) {
        precondition(capacity > 0)
        self.maxAge = maxAge
        self.capacity = capacity
        self.clock = clock
    }

    /// The value for `key` if it is younger than `maxAge`; otherwise `compute`'s, kept.
    public func value(for key: Key, computing compute: @Sendable () async throws -> Value) async throws -> Value {
        let now = clock.now()
        if let kept = values[key], now.timeIntervalSince(kept.at) < maxAge { return kept.value }
        let computed = try await compute()
        // Another caller may have stored one meanwhile (the actor is free while computing); the
        // later computation wins, and moves to the end.
        values.removeValue(forKey: key)
        if values.count >= capacity { values.removeFirst() }
        values[key] = (computed, now)
        return computed
    }

    public var count: Int { values.count }
}
