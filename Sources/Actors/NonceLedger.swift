import Domain
import Foundation

/// Nonces of ID tokens already redeemed, each kept until its token expires, so the same signed
/// token cannot be exchanged for a NeoSC session twice. Bounded: when full, entries closest to
/// expiry go first (they are the least useful to an attacker anyway).
public actor NonceLedger {
    private var expiries: [String: Date] = [:]
    private let capacity: Int
    private let clock: WallClock

    public init(capacity: Int = 100_000, clock: WallClock = .system) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.clock = clock
    }

    /// Nonces remembered now.
    public var count: Int { expiries.count }

    /// Records `nonce` as used until `expiresAt`; false when it had been used already.
    public func redeem(_ nonce: String, until expiresAt: Date) -> Bool {
        let now = clock.now()
        if let known = expiries[nonce], known > now { return false }
        if expiries.count >= capacity { makeRoom(now: now) }
        expiries[nonce] = expiresAt
        return true
    }

    private func makeRoom(now: Date) {
        expiries = expiries.filter { $0.value > now }
        guard expiries.count >= capacity else { return }
        let soonest = expiries.sorted { $0.value < $1.value }.prefix(max(1, capacity / 8))
        for (nonce, _) in soonest { expiries[nonce] = nil }
    }
}
