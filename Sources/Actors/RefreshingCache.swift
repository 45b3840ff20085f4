import Domain
import Foundation

/// One value loaded from the store on first use and kept until `invalidate()`, or, when other
/// processes can change it (replicas), until it is `maxAge` old. A load that was under way when
/// an invalidation happened is returned to its caller but not kept.
public actor RefreshingCache<Value: Sendable> {
    private var value: Value?
    private var loadedAt: Date?
    private var generation: UInt64 = 0
    private let maxAge: TimeInterval?
    private let clock: WallClock

    /// - Parameter maxAge: nil when this process makes every change to the value.
    public init(maxAge: TimeInterval? = nil, clock: WallClock = .system) {
        self.maxAge = maxAge
        self.clock = clock
    }

    public func value(loading load: @Sendable () async throws -> Value) async throws -> Value {
        let now = clock.now()
        if let value, let loadedAt, maxAge.map({ now.timeIntervalSince(loadedAt) < $0 }) ?? true {
            return value
        }
        let started = generation
        let loaded = try await load()
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
    }
}
