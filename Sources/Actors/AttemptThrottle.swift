import DequeModule
import Domain
import Foundation

/// Counts attempts per key (an account, a client address) in fixed windows: after `limit`
/// attempts within `window`, the key is refused until the window that began with its first
/// attempt has passed. Slows online password guessing (failed logins) and account spraying
/// (registrations, each of which costs a bcrypt).
///
/// At most `capacity` keys are counted. A new key past that takes the place of a window that is
/// over, else of the oldest window that holds nothing back, and only when every window holds its
/// key back, of the one that has held longest: a flood of fresh keys cannot make a held-back key
/// forget (short of `capacity` keys each brought to the limit), and making room never scans the
/// table.
public actor AttemptThrottle {
    private struct Window {
        var start: Date
        var attempts: Int
        var refusals = 0
        /// Tells this window from the key's earlier ones in `opened` and `holding`.
        let serial: UInt64
    }

    /// A window in the order of `opened` or `holding`; one whose window has gone (over, reset,
    /// replaced) is skipped when met, and dropped when such marks pile up.
    private struct Mark {
        let key: String
        let serial: UInt64
    }

    /// A refused attempt: when the key may try again, and how many times it has been refused
    /// in this window (1 for the first), so callers can record the first and count the rest.
    public struct Refusal: Sendable, Equatable {
        public let retryAfter: Int
        public let count: Int
    }

    private var windows: [String: Window] = [:]
    /// Windows in the order they began.
    private var opened: Deque<Mark> = []
    /// Windows in the order they reached the limit.
    private var holding: Deque<Mark> = []
    private var serials: UInt64 = 0
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
        var entry: Window
        if let current = windows[key], now < current.start.addingTimeInterval(window) {
            entry = current
            entry.attempts += 1
        } else {
            windows[key] = nil
            if windows.count >= capacity { makeRoom(now) }
            serials &+= 1
            entry = Window(start: now, attempts: 1, serial: serials)
            opened.append(Mark(key: key, serial: entry.serial))
        }
        windows[key] = entry
        if entry.attempts == limit { holding.append(Mark(key: key, serial: entry.serial)) }
        dropGoneMarks()
    }

    /// Forgets one window (see the type's comment), each mark looked at once.
    private func makeRoom(_ now: Date) {
        // Windows over by now first: from the front of each line, while the first is over or
        // gone (held-back windows' marks in `opened` may have gone, see below).
        dropOver(from: &opened, at: now)
        dropOver(from: &holding, at: now)
        if windows.count < capacity { return }
        // A held-back window's mark in `opened` goes: `holding` has one for it too.
        while let first = opened.popFirst() {
            if let entry = windows[first.key], entry.serial == first.serial, entry.attempts < limit {
                windows[first.key] = nil
                return
            }
        }
        while let first = holding.popFirst() {
            if windows[first.key]?.serial == first.serial {
                windows[first.key] = nil
                return
            }
        }
    }

    /// Forgets the windows at the front of `line` that are over at `now`, and drops the marks of
    /// gone ones there, up to the first window still counting.
    private func dropOver(from line: inout Deque<Mark>, at now: Date) {
        while let first = line.first {
            if let entry = windows[first.key], entry.serial == first.serial {
                guard now >= entry.start.addingTimeInterval(window) else { return }
                windows[first.key] = nil
            }
            line.removeFirst()
        }
    }

    /// Keeps the marks within twice the keys counted (and a little): marks of windows that have
    /// gone without being met at the front (reset, over and read again) would otherwise pile up
    /// while the table has room.
    private func dropGoneMarks() {
        let bound = 2 * windows.count + 64
        if opened.count > bound { opened = Deque(opened.filter { windows[$0.key]?.serial == $0.serial }) }
        if holding.count > bound { holding = Deque(holding.filter { windows[$0.key]?.serial == $0.serial }) }
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
