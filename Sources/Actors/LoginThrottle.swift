import Domain
import Foundation

/// Slows online password guessing: after `maxFailures` failed logins for one key (an account, or a
/// client address) within `window`, further attempts for that key are refused until the window
/// that began with the first failure has passed. A success clears the account's count.
public actor LoginThrottle {
    private struct Window {
        var start: Date
        var failures: Int
    }

    private var windows: [String: Window] = [:]
    private let maxFailures: Int
    private let window: TimeInterval
    private let capacity: Int
    private let clock: WallClock

    public init(maxFailures: Int = 10, window: TimeInterval = 900, capacity: Int = 100_000, clock: WallClock = .system) {
        precondition(maxFailures > 0 && window > 0 && capacity > 0)
        self.maxFailures = maxFailures
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
        return entry.failures >= maxFailures ? max(1, Int(reopens.timeIntervalSince(now).rounded(.up))) : nil
    }

    public func failed(_ key: String) {
        let now = clock.now()
        if let entry = windows[key], now < entry.start.addingTimeInterval(window) {
            windows[key]?.failures = entry.failures + 1
            return
        }
        if windows.count >= capacity {
            windows = windows.filter { now < $0.value.start.addingTimeInterval(window) }
            if windows.count >= capacity, let oldest = windows.min(by: { $0.value.start < $1.value.start }) {
                windows[oldest.key] = nil
            }
        }
        windows[key] = Window(start: now, failures: 1)
    }

    public func succeeded(_ key: String) {
        windows[key] = nil
    }
}
