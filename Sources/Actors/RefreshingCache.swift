import Domain
import Foundation

/// One value loaded from the store on first use and kept until `invalidate()`, or, when other
/// processes can change it (replicas), until it is `maxAge` old. A load that was under way when
/// an invalidation happened is returned to its callers but not kept.
///
/// One load at a time: callers that find the value missing or too old while a load runs wait for
/// that load instead of starting their own. (Each used to load for itself: at a fixed 6,000 list
/// requests a second, every request that arrived during a reload read and encoded the whole
/// catalogue again, and the list's p99 was 285 ms against the floor's 15.)
public actor RefreshingCache<Value: Sendable> {
    private var value: Value?
    private var loadedAt: Date?
    private var generation: UInt64 = 0
    /// The load under way, which callers join.
    private var loading: Task<Value, any Error>?
    private let maxAge: TimeInterval?
    private let clock: WallClock

    /// - Parameter maxAge: nil when this process makes every change to the value.
    public init(maxAge: TimeInterval? = nil, clock: WallClock = .system) {
        self.maxAge = maxAge
        self.clock = clock
    }

    public func value(loading load: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let now = clock.now()
        if let value, let loadedAt, maxAge.map({ now.timeIntervalSince(loadedAt) < $0 }) ?? true {
            return value
        }
        if let loading { return try await loading.value }
        let started = generation
        let load = Task { try await load() }
        loading = load
        // An invalidation meanwhile has dropped this load already (and a newer one may run).
        defer { if started == generation { loading = nil } }
        let loaded = try await load.value
        if started == generation {
            value = loaded
            loadedAt = now
        }
        return loaded
    }

    public func invalidate() {
        generation &+= 1
        value = nil
        loadedAt = nil
        loading = nil
    }
}
