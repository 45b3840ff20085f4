import Domain
import Foundation

/// The `LoginUnlock`s this process has applied to its throttles, so each is applied once: an
/// unlock applied again later would clear failures counted after it.
public actor AppliedUnlocks {
    private struct Applied {
        let at: Date
        /// The one application, and what it cleared.
        let cleared: Task<Int, Never>
    }

    private var applied: [String: Applied] = [:]
    private let memory: TimeInterval

    /// Remembers an applied unlock for `memory` on this process's clock: longer than the store
    /// is read back for (`SignIn.applyRecordedUnlocks`, an hour) plus any clock skew between the
    /// processes, so none is applied twice.
    public init(memory: TimeInterval = 3 * 3_600) {
        self.memory = memory
    }

    /// What the one application of `unlock` cleared, and whether this call made it: the first
    /// caller runs `apply`; any other, during it or after (the administrator's request and the
    /// watcher applying recorded unlocks race for a new one), gets that same count.
    public func apply(
        _ unlock: LoginUnlock, now: Date, with apply: @escaping @Sendable () async -> Int
    ) async -> (cleared: Int, first: Bool) {
        let cutoff = now.addingTimeInterval(-memory)
        applied = applied.filter { $0.value.at >= cutoff }
        if let known = applied[unlock.id] { return (await known.cleared.value, false) }
        let application = Task { await apply() }
        applied[unlock.id] = Applied(at: now, cleared: application)
        return (await application.value, true)
    }
}
