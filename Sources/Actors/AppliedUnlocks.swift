import Domain
import Foundation

/// The `LoginUnlock`s this process has applied to its throttles, so each is applied once: an
/// unlock applied again later would clear failures counted after it.
public actor AppliedUnlocks {
    private var applied: [String: Date] = [:]
    private let memory: TimeInterval

    /// Remembers an applied unlock for `memory` on this process's clock: longer than the store
    /// is read back for (`SignIn.applyRecordedUnlocks`, an hour) plus any clock skew between the
    /// processes, so none is applied twice.
    public init(memory: TimeInterval = 3 * 3_600) {
        self.memory = memory
    }

    /// True the first time `unlock` is presented; false for one applied already.
    public func firstTime(_ unlock: LoginUnlock, now: Date) -> Bool {
        let cutoff = now.addingTimeInterval(-memory)
        applied = applied.filter { $0.value >= cutoff }
        guard applied[unlock.id] == nil else { return false }
        applied[unlock.id] = now
        return true
    }
}
