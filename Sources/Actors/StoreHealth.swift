import Domain
import Foundation

/// What `/health` reports about the store: whether it answers reads, and whether it still
/// accepts writes (a full disk leaves reads working and every change failing).
///
/// One check runs at a time and its answer is kept for `interval`: `/health` is open to anyone,
/// and however often it is polled the store sees at most one read and one small write per
/// interval.
public actor StoreHealth {
    public enum Condition: Sendable, Equatable {
        case healthy
        /// Reads work, writes do not; the reason says why.
        case degraded(String)
        /// The store does not answer at all.
        case unhealthy(String)
    }

    private let store: any Store
    private let interval: TimeInterval
    private let clock: WallClock
    private var answered: (at: Date, condition: Condition)?
    private var running: Task<Condition, Never>?

    public init(store: any Store, interval: TimeInterval = 1, clock: WallClock = .system) {
        self.store = store
        self.interval = interval
        self.clock = clock
    }

    public func check() async -> Condition {
        await checkNotingChange().condition
    }

    /// The condition, and whether it is new: true only for the probe whose answer differs from
    /// the one before (the first probe's counts as new unless healthy), so a caller can report a
    /// change once however often it asks.
    public func checkNotingChange() async -> (condition: Condition, isChange: Bool) {
        if let answered, clock.now().timeIntervalSince(answered.at) < interval { return (answered.condition, false) }
        if let running { return (await running.value, false) }
        let store = store
        let clock = clock
        let task = Task { await Self.probe(store, at: clock.now()) }
        running = task
        let condition = await task.value
        let previous = answered?.condition ?? .healthy
        answered = (clock.now(), condition)
        running = nil
        return (condition, condition != previous)
    }

    private static func probe(_ store: any Store, at now: Date) async -> Condition {
        do {
            try await store.ping()
        } catch {
            return .unhealthy(Self.reason(error, otherwise: "The data store is not answering"))
        }
        do {
            try await store.probeWrite(at: now)
            return .healthy
        } catch {
            return .degraded(Self.reason(error, otherwise: "The data store does not accept writes"))
        }
    }

    private static func reason(_ error: any Error, otherwise: String) -> String {
        if case .unavailable(let reason) = error as? DomainError { return reason }
        return otherwise
    }
}
