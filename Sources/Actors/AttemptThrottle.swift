import Domain
import Foundation

/// Counts attempts per key (an account, a client address) in fixed windows: after `limit`
/// attempts within `window`, the key is refused until the window that began with its first
/// attempt has passed. Slows online password guessing (failed logins) and account spraying
/// (registrations, each of which costs a bcrypt).
public actor AttemptThrottle {
    private struct Window {
        var start: Date
        var attempts: Int
        var refusals = 0
    }

    /// A refused attempt: when the key may try again, and how many times it has been refused
    /// in this window (1 for the first), so callers can record the first and count the rest.
    public struct Refusal: Sendable, Equatable {
        public let retryAfter: Int
        public let count: Int
    }

    private var windows: [String: Window] = [:]
    private let limit: Int
    private let window: TimeInterval
    private let capacity: Int
    private let clock: WallClock

    public init(limit: Int, window: TimeInterval = 900, capacity: Int = 100_000, clock: WallClock = .system) {
        precondition(limit > 0 && window > 0 && capacity > 0)
        self.limit = limit
        self.window = window
        self.capacity = capacity
        self.clock = clock
    }

    /// Seconds until `key` may try again, or nil when it may try now.
    public func retryAfter(_ key: String) -> Int? {
        let now = clock.now()
        guard let entry = windows[key] else { return nil }
        let reopens = entry.start.addingTimeInterval(window)
        guard now < reopens else {
            windows[key] = nil
            return nil
        }
        return entry.attempts >= limit ? max(1, Int(reopens.timeIntervalSince(now).rounded(.up))) : nil
    }

    /// The refusal of an attempt by `key` now, counted, or nil when it may try now.
    public func refusal(_ key: String) -> Refusal? {
        guard let retryAfter = retryAfter(key) else { return nil }
        windows[key]?.refusals += 1
        return Refusal(retryAfter: retryAfter, count: windows[key]?.refusals ?? 1)
    }

    /// Admits an attempt by `key` and counts it, or refuses it (counted as a refusal), in one
    /// step: concurrent callers cannot all pass a check before any of them is counted.
    public func admit(_ key: String) -> Refusal? {
        if let refusal = refusal(key) { return refusal }
        record(key)
        return nil
    }

    /// Counts one attempt for `key`.
    public func record(_ key: String) {
        let now = clock.now()
        if let entry = windows[key], now < entry.start.addingTimeInterval(window) {
            windows[key]?.attempts = entry.attempts + 1
            return
        }
        if windows.count >= capacity {
            windows = windows.filter { now < $0.value.start.addingTimeInterval(window) }
            if windows.count >= capacity, let oldest = windows.min(by: { $0.value.start < $1.value.start }) {
                windows[oldest.key] = nil
            }
        }
        windows[key] = Window(start: now, attempts: 1)
    }

    /// Attempts counted for `key` in its current window (0 when none, or its window is over).
    public func attempts(_ key: String) -> Int {
        guard let entry = windows[key], clock.now() < entry.start.addingTimeInterval(window) else { return 0 }
        return entry.attempts
    }

    /// Forgets `key`'s attempts (a successful login clears its account's failures).
    public func reset(_ key: String) {
        windows[key] = nil
    }

    /// Forgets the attempts of every key that starts with `prefix` (an account's, from every
    /// address); answers how many keys it forgot.
    @discardableResult
    public func reset(keysStartingWith prefix: String) -> Int {
        let keys = windows.keys.filter { $0.hasPrefix(prefix) }
        for key in keys { windows[key] = nil }
        return keys.count
    }
}
