import Domain
import Foundation

/// Bearer-token digest → verified identity (principal and account), so a repeated token costs a
/// dictionary lookup, not a store round trip. Bounded in size; each entry lives at most `lifetime` and never past its
/// credential's own expiry. Writes that change who someone is (revocation, role change, disabling)
/// evict at once, so they take effect on the very next request.
public actor TokenCache {
    private struct Entry {
        var identity: Identity
        var validUntil: Date
    }

    private var entries: [String: Entry] = [:]
    private var digestsByUser: [String: Set<String>] = [:]
    /// Bumped by every eviction; a lookup that started before one may not fill the cache.
    private var generation: UInt64 = 0
    private let capacity: Int
    private let lifetime: TimeInterval
    private let clock: WallClock

    public init(capacity: Int = 100_000, lifetime: TimeInterval = 5, clock: WallClock = .system) {
        precondition(capacity > 0 && lifetime >= 0)
        self.capacity = capacity
        self.lifetime = lifetime
        self.clock = clock
    }

    public var count: Int { entries.count }

    /// The cached identity for `digest`, or nil when absent or stale.
    public func identity(forDigest digest: String) -> Identity? {
        guard let entry = entries[digest] else { return nil }
        guard clock.now() < entry.validUntil else {
            remove(digest)
            return nil
        }
        return entry.identity
    }

    /// The token a cache fill must present to `remember`: take it before reading the store.
    public func fillTicket() -> UInt64 { generation }

    /// Caches `identity` unless something was evicted since `ticket` was taken (the read may be stale).
    public func remember(_ identity: Identity, ticket: UInt64) {
        guard ticket == generation, lifetime > 0 else { return }
        let principal = identity.principal
        let validUntil = min(clock.now().addingTimeInterval(lifetime), principal.credentialExpiresAt)
        if entries.count >= capacity, entries[principal.credentialDigest] == nil {
            makeRoom()
        }
        entries[principal.credentialDigest] = Entry(identity: identity, validUntil: validUntil)
        digestsByUser[principal.userID, default: []].insert(principal.credentialDigest)
    }

    /// Forgets one credential (logout, revocation).
    public func evict(digest: String) {
        generation &+= 1
        remove(digest)
    }

    /// Forgets every credential of a user (role change, disabling, revoke-all).
    public func evict(userID: String) {
        generation &+= 1
        for digest in digestsByUser.removeValue(forKey: userID) ?? [] {
            entries[digest] = nil
        }
    }

    private func remove(_ digest: String) {
        guard let entry = entries.removeValue(forKey: digest) else { return }
        let userID = entry.identity.principal.userID
        digestsByUser[userID]?.remove(digest)
        if digestsByUser[userID]?.isEmpty == true {
            digestsByUser[userID] = nil
        }
    }

    /// Drops stale entries; if none were stale, drops an eighth of the cache (arbitrary entries) so
    /// that filling a full cache stays amortised O(1).
    private func makeRoom() {
        let now = clock.now()
        let stale = entries.filter { $0.value.validUntil <= now }.map(\.key)
        for digest in stale { remove(digest) }
        guard entries.count >= capacity else { return }
        for digest in entries.keys.prefix(max(1, capacity / 8)) { remove(digest) }
    }
}
