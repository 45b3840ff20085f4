import Domain
import Foundation

/// The `LoginUnlock`s this process has applied to its throttles, so each is applied once: an
/// unlock applied again later would clear failures counted after it.
public actor AppliedUnlocks {
    private var applied: [String: Date] = [:]
    private let memory: TimeInterval

    /// Forgets an unlock `memory` after it was recorded; the store is read for no older ones.
    public init(memory: TimeInterval = 3_600) {
        self.memory = memory
    }

    /// True the first time `unlock` is presented; false for one applied already.
    public func firstTime(_ unlock: LoginUnlock) -> Bool {
        let cutoff = unlock.at.addingTimeInterval(-memory)
        applied = applied.filter { $0.value >= cutoff }
        guard applied[unlock.id] == nil else { return false }
        applied[unlock.id] = unlock.at
        return true
    }
}
