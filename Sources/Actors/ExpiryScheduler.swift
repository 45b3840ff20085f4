import Domain
import Foundation
import HeapModule

/// Every deadline NeoSC keeps (demo expiries, session lifetimes, idle deadlines) in one priority
/// queue (swift-collections' `Heap`), with one sleeping task that wakes for the earliest — not a task per timer. Arming an
/// earlier deadline wakes it early; re-arming a key moves it; disarming drops it (lazily: a moved
/// or dropped entry is skipped when it reaches the top of the heap).
///
/// Due keys are handed to `run`'s consumer through an `AsyncStream`, so slow clean-ups never
/// hold the queue. The deadlines themselves are persisted by the store (the records' own
/// `expires_at` and `last_seen_at`); after a restart the owner re-arms them all, and overdue ones
/// fire at once.
public actor ExpiryScheduler {
    private struct Entry: Comparable {
        var due: Date
        var key: DeadlineKey
        static func < (a: Entry, b: Entry) -> Bool { a.due < b.due }
        static func == (a: Entry, b: Entry) -> Bool { a.due == b.due && a.key == b.key }
    }

    private var heap = Heap<Entry>()
    /// The live due time of each armed key; heap entries that disagree are stale.
    private var armed: [DeadlineKey: Date] = [:]
    private var sleeper: Task<Void, Never>?
    private var wakeAt: Date?
    private let clock: WallClock

    public init(clock: WallClock = .system) {
        self.clock = clock
    }

    /// How many deadlines are armed.
    public var count: Int { armed.count }

    /// Arms `key` to fire at `due` (moving it if it was armed already).
    public func arm(_ key: DeadlineKey, at due: Date) {
        guard armed[key] != due else { return }
        armed[key] = due
        heap.insert(Entry(due: due, key: key))
        if wakeAt.map({ due < $0 }) ?? true { sleeper?.cancel() }
        compactIfMostlyStale()
    }

    /// Arms many deadlines at once (start-up, the periodic rescan), waking the loop at most once.
    /// Keys already armed for the same time are left as they are, so a rescan of an unchanged
    /// store adds nothing to the queue.
    public func arm(_ deadlines: [(DeadlineKey, Date)]) {
        var earliest: Date?
        for (key, due) in deadlines where armed[key] != due {
            armed[key] = due
            heap.insert(Entry(due: due, key: key))
            earliest = min(earliest ?? due, due)
        }
        if let earliest, wakeAt.map({ earliest < $0 }) ?? true { sleeper?.cancel() }
        compactIfMostlyStale()
    }

    /// Entries in the queue, stale ones included (for tests and benchmarks).
    public var queued: Int { heap.count }

    public func disarm(_ key: DeadlineKey) {
        armed[key] = nil
        compactIfMostlyStale()
    }

    /// When `key` is due, if armed.
    public func due(_ key: DeadlineKey) -> Date? { armed[key] }

    /// Fires deadlines until the calling task is cancelled: each due key is yielded to `fired`
    /// once, then forgotten (a handler re-arms it if it must fire again).
    public func run(firing fired: AsyncStream<DeadlineKey>.Continuation) async {
        while !Task.isCancelled {
            let now = clock.now()
            while let top = heap.min, top.due <= now {
                heap.removeMin()
                guard armed[top.key] == top.due else { continue }  // moved or disarmed
                armed[top.key] = nil
                fired.yield(top.key)
            }
            let next = heap.min?.due
            wakeAt = next
            let clock = self.clock
            let task = Task { _ = try? await clock.sleep(until: next ?? now + 3_600) }
            sleeper = task
            await withTaskCancellationHandler {
                await task.value
            } onCancel: {
                task.cancel()
            }
            sleeper = nil
        }
        fired.finish()
    }

    /// Rebuilds the heap when stale entries (moved or disarmed keys) outnumber live ones, so
    /// frequent re-arming (heartbeats) cannot grow it without bound.
    private func compactIfMostlyStale() {
        guard heap.count > 1_024, heap.count > 2 * armed.count else { return }
        heap = Heap(armed.map { Entry(due: $0.value, key: $0.key) })
    }
}
