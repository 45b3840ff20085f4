import Domain
import Foundation

/// Repeated refusals folded into a few audit entries instead of one per request. The first
/// refusal of a key (a policy, a caller, a stage) opens a window and is written at once by the
/// caller; the ones that follow within `window` are counted, and `drain` hands over the count
/// once the window is over, for one entry that says how many there were and when. So every
/// refusal is accounted for, and a client hammering a limit or a closed window writes at most
/// two entries a window, however fast it asks.
///
/// At most `capacity` keys are followed: past that, a new key's refusals are counted under its
/// `overflowKey` (the policy and stage), their callers no longer told apart, their number kept.
public actor RefusalTally<Sample: Sendable> {
    /// The refusals of one key (or of the keys past the capacity, by `overflowKey`) that were
    /// counted rather than written.
    public struct Folded: Sendable {
        public let key: String
        /// The key's `overflowKey`.
        public let group: String
        public let count: Int
        public let first: Date
        public let last: Date
        /// Whether the count is of several callers' refusals (past the capacity).
        public let severalCallers: Bool
        /// The latest refusal's particulars (who, from where, why).
        public let sample: Sample
    }

    private struct Window {
        var start: Date
        var group: String
        var count = 0
        var first: Date?
        var last: Date?
        var sample: Sample?

        mutating func count(_ sample: Sample, at now: Date) {
            count += 1
            first = first ?? now
            last = now
            self.sample = sample
        }

        func folded(key: String, severalCallers: Bool) -> Folded? {
            guard count > 0, let first, let last, let sample else { return nil }
            return Folded(
                key: key, group: group, count: count, first: first, last: last, severalCallers: severalCallers, sample: sample)
        }
    }

    private var windows: [String: Window] = [:]
    private var overflow: [String: Window] = [:]
    /// Counts of windows that ended before `drain` came for them.
    private var ended: [Folded] = []
    /// When a full tally last looked for windows that are over: at most once a second, so a
    /// flood of new callers does not make every refusal walk all of them.
    private var lastSweep = Date.distantPast
    private let window: TimeInterval
    private let capacity: Int
    private let clock: WallClock

    public init(window: TimeInterval = 60, capacity: Int = 10_000, clock: WallClock = .system) {
        precondition(window > 0 && capacity > 0)
        self.window = window
        self.capacity = capacity
        self.clock = clock
    }

    /// Whether this refusal by `key` opens a window, and so is to be written now; otherwise it
    /// is counted for `drain`.
    public func note(_ key: String, overflowKey: String, sample: Sample) -> Bool {
        let now = clock.now()
        if let open = windows[key] {
            if now < open.start.addingTimeInterval(window) {
                windows[key]?.count(sample, at: now)
                return false
            }
            keep(open.folded(key: key, severalCallers: false))
            windows[key] = Window(start: now, group: overflowKey)
            return true
        }
        if windows.count >= capacity, now.timeIntervalSince(lastSweep) >= 1 {
            lastSweep = now
            closeEnded(at: now)
        }
        guard windows.count < capacity else {
            if let open = overflow[overflowKey], now >= open.start.addingTimeInterval(window) {
                keep(open.folded(key: overflowKey, severalCallers: true))
                overflow[overflowKey] = nil
            }
            overflow[overflowKey, default: Window(start: now, group: overflowKey)].count(sample, at: now)
            return false
        }
        windows[key] = Window(start: now, group: overflowKey)
        return true
    }

    /// The counts of the windows that are over (with `everything`, of every window: at
    /// shutdown), each once.
    public func drain(everything: Bool = false) -> [Folded] {
        let now = everything ? Date.distantFuture : clock.now()
        closeEnded(at: now)
        for (key, open) in overflow where now >= open.start.addingTimeInterval(window) {
            keep(open.folded(key: key, severalCallers: true))
            overflow[key] = nil
        }
        defer { ended = [] }
        return ended
    }

    /// Counts a `drain` returned that could not be written: the next `drain` returns them again.
    public func restore(_ folded: [Folded]) {
        for item in folded { keep(item) }
    }

    private func closeEnded(at now: Date) {
        for (key, open) in windows where now >= open.start.addingTimeInterval(window) {
            keep(open.folded(key: key, severalCallers: false))
            windows[key] = nil
        }
    }

    /// Keeps a count for `drain`; past the capacity, merged into one of the same group, so
    /// memory stays bounded (by the groups) whatever `drain` does.
    private func keep(_ folded: Folded?) {
        guard let folded else { return }
        guard ended.count >= capacity, let index = ended.firstIndex(where: { $0.group == folded.group }) else {
            ended.append(folded)
            return
        }
        let merged = ended[index]
        ended[index] = Folded(
            key: merged.group, group: merged.group, count: merged.count + folded.count, first: min(merged.first, folded.first),
            last: max(merged.last, folded.last), severalCallers: true, sample: folded.sample)
    }
}
