import Domain
import Foundation
import Synchronization

/// Bearer-token digest → verified identity (principal and account), so a repeated token costs a
/// dictionary lookup, not a store round trip. Bounded in size; each entry lives at most `lifetime`
/// past the store read it came from, and never past its credential's own expiry. Writes that change
/// who someone is (revocation, role change, disabling) evict at once, so they take effect on the
/// very next request; `lifetime` bounds changes made by other processes.
///
/// Entries filled from a stored token (`renewable`) by a request, or used since their last renewal,
/// are renewed in batches before they lapse (`dueForRenewal`, `renew`): a token in steady use is
/// read again with a hundred others in one query, not alone on the request that finds its entry
/// expired. An entry unused since its renewal lapses.
/// A use with less than `renewalMargin` left also asks for a renewal at once (`renewalWanted`,
/// `lapsingInUse`): no scheduled pass may come between that use and the lapse, and the entry's
/// next request then read its token alone, on the request path (issue #12: the dashboard
/// benchmark, 10,000 tokens each back every 1–5 s, read a token on a fifth of its views).
///
/// A lock, not an actor: every authenticated request looks its token up here, and each lookup is
/// a dictionary access. As an actor, each was a hop onto its executor, and, while another request
/// held it, a suspension and a resumption on another thread.
public final class TokenCache: Sendable {
    private struct Entry {
        var identity: Identity
        /// When what it holds was read from the store (at the latest).
        var readAt: Date
        var validUntil: Date
        /// Read again from the store by a batch before it lapses (a stored bearer token).
        var renewable: Bool

        /// Live at `now` with at most `margin` left, which a renewal would lengthen (an entry
        /// that lapses with its credential gains nothing from one).
        func lapsesSoon(at now: Date, within margin: TimeInterval) -> Bool {
            now < validUntil && validUntil.timeIntervalSince(now) <= margin
                && validUntil < identity.principal.credentialExpiresAt
        }
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var digestsByUser: [String: Set<String>] = [:]
        /// The renewable entries filled by a request (its token's use) or asked for since their
        /// last renewal: what `dueForRenewal` looks through, rather than every entry.
        var usedSinceRead: Set<String> = []
        /// The renewable entries used with less than `renewalMargin` left since their last read:
        /// what `lapsingInUse` hands over (a subset of `usedSinceRead`).
        var usedNearLapse: Set<String> = []
        /// Bumped by every eviction; a lookup that started before one may not fill the cache.
        var generation: UInt64 = 0

        mutating func remove(_ digest: String) {
            usedSinceRead.remove(digest)
            usedNearLapse.remove(digest)
            guard let entry = entries.removeValue(forKey: digest) else { return }
            let userID = entry.identity.principal.userID
            digestsByUser[userID]?.remove(digest)
            if digestsByUser[userID]?.isEmpty == true {
                digestsByUser[userID] = nil
            }
        }

        /// Drops stale entries, then arbitrary ones until an eighth of the cache is free: each
        /// scan frees room for capacity / 8 fills, so filling a full cache stays amortised O(1)
        /// (freeing only the stale ones could free a single slot per scan, under the lock).
        mutating func makeRoom(capacity: Int, now: Date) {
            let stale = entries.filter { $0.value.validUntil <= now }.map(\.key)
            for digest in stale { remove(digest) }
            let target = capacity - max(1, capacity / 8)
            guard entries.count > target else { return }
            for digest in Array(entries.keys.prefix(entries.count - target)) { remove(digest) }
        }
    }

    private let state = Mutex(State())
    private let capacity: Int
    /// How long an entry lives past the store read it came from.
    public let lifetime: TimeInterval
    /// Half the lifetime: how near its lapse a use of a renewable entry asks for its renewal at
    /// once, and the margin of the scheduled passes (`TokenRenewal.renewDue`).
    public let renewalMargin: TimeInterval
    /// Yields when a renewable entry was used with less than `renewalMargin` left and a renewal
    /// could give it more (once per entry and read; yields that come while one waits are one):
    /// take `lapsingInUse` and renew them. One consumer for the cache's life (the process's
    /// `TokenRenewalService`): an `AsyncStream` ends for good when its iteration is cancelled.
    public let renewalWanted: AsyncStream<Void>
    private let wantRenewal: AsyncStream<Void>.Continuation
    private let clock: WallClock

    public init(capacity: Int = 100_000, lifetime: TimeInterval = 5, clock: WallClock = .system) {
        precondition(capacity > 0 && lifetime >= 0)
        self.capacity = capacity
        self.lifetime = lifetime
        renewalMargin = lifetime / 2
        (renewalWanted, wantRenewal) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.clock = clock
    }

    deinit { wantRenewal.finish() }

    public var count: Int { state.withLock { $0.entries.count } }

    /// The cached identity for `digest`, or nil when absent or stale.
    public func identity(forDigest digest: String) -> Identity? {
        let now = clock.now()
        let (identity, nearLapse) = state.withLock { state -> (Identity?, Bool) in
            guard let entry = state.entries[digest] else { return (nil, false) }
            guard now < entry.validUntil else {
                state.remove(digest)
                return (nil, false)
            }
            guard entry.renewable else { return (entry.identity, false) }
            state.usedSinceRead.insert(digest)
            let nearLapse = entry.lapsesSoon(at: now, within: renewalMargin) && state.usedNearLapse.insert(digest).inserted
            return (entry.identity, nearLapse)
        }
        if nearLapse { wantRenewal.yield() }
        return identity
    }

    /// The token a cache fill must present to `remember`: take it before reading the store.
    public func fillTicket() -> UInt64 { state.withLock { $0.generation } }

    /// Caches `identity` unless something was evicted since `ticket` was taken (the read may be stale).
    /// - Parameters:
    ///   - readAt: when the read it came from began (by default now); it lives `lifetime` from then.
    ///   - renewable: it came from a stored bearer token, which `renew` may read again. The fill
    ///     counts as a use: the entry is renewed once before it lapses even if its token does not
    ///     come back within the lifetime (a token presented once is likely presented again soon:
    ///     a page's requests, a client's polls), and lapses after that renewal if unused.
    public func remember(_ identity: Identity, ticket: UInt64, readAt: Date? = nil, renewable: Bool = false) {
        let now = clock.now()
        let principal = identity.principal
        let readAt = readAt ?? now
        let validUntil = min(readAt.addingTimeInterval(lifetime), principal.credentialExpiresAt)
        state.withLock { state in
            guard ticket == state.generation, lifetime > 0 else { return }
            if state.entries.count >= capacity, state.entries[principal.credentialDigest] == nil {
                state.makeRoom(capacity: capacity, now: now)
            }
            state.entries[principal.credentialDigest] = Entry(
                identity: identity, readAt: readAt, validUntil: validUntil, renewable: renewable)
            if renewable {
                state.usedSinceRead.insert(principal.credentialDigest)
            } else {
                state.usedSinceRead.remove(principal.credentialDigest)
            }
            state.usedNearLapse.remove(principal.credentialDigest)
            state.digestsByUser[principal.userID, default: []].insert(principal.credentialDigest)
        }
    }

    /// The renewable entries filled by a request or used since their last renewal that lapse
    /// within `margin`: the ones a batch should read again now. Entries unused since a renewal
    /// are left to lapse, so the cache holds the tokens in use.
    public func dueForRenewal(within margin: TimeInterval) -> [String] {
        let now = clock.now()
        let horizon = now.addingTimeInterval(margin)
        return state.withLock { state in
            var due: [String] = []
            var lapsed: [String] = []
            for digest in state.usedSinceRead {
                guard let entry = state.entries[digest], now < entry.validUntil else {
                    lapsed.append(digest)  // the next request that presents it reads it again
                    continue
                }
                if entry.validUntil <= horizon { due.append(digest) }
            }
            for digest in lapsed { state.remove(digest) }
            return due
        }
    }

    /// The renewable entries used with less than `renewalMargin` left since their last read, not
    /// lapsed nor renewed since: the ones `renewalWanted` asked for. Each is handed over once;
    /// if its renewal fails, its next use asks again.
    public func lapsingInUse() -> [String] {
        let now = clock.now()
        return state.withLock { state in
            let asked = state.usedNearLapse
            state.usedNearLapse = []
            return asked.filter { state.entries[$0]?.lapsesSoon(at: now, within: renewalMargin) == true }
        }
    }

    /// Applies a batch read of the store that began at `readAt`, with `ticket` from `fillTicket`
    /// taken before it, and says how many entries it renewed. Each identity in `current` replaces
    /// its entry, if that is still cached, renewable, of the same account and read before
    /// `readAt`, and lives `lifetime` from `readAt` (never past its credential's expiry); each
    /// digest in `gone` (revoked, expired, its account disabled) is forgotten. When anything was
    /// evicted since the ticket, the read may predate that eviction: nothing is renewed then (the
    /// entries lapse, and the next request reads its own), and `gone` still applies.
    @discardableResult
    public func renew(_ current: [Identity], gone: [String], readAt: Date, ticket: UInt64) -> Int {
        state.withLock { state in
            for digest in gone { state.remove(digest) }
            guard ticket == state.generation, lifetime > 0 else { return 0 }
            var renewed = 0
            for identity in current {
                let principal = identity.principal
                // An entry that lapsed meanwhile is not in use, or was filled again by a later read.
                guard let cached = state.entries[principal.credentialDigest], cached.renewable, cached.readAt < readAt,
                    cached.identity.principal.userID == principal.userID
                else { continue }
                state.entries[principal.credentialDigest] = Entry(
                    identity: identity, readAt: readAt,
                    validUntil: min(readAt.addingTimeInterval(lifetime), principal.credentialExpiresAt), renewable: true)
                state.usedSinceRead.remove(principal.credentialDigest)
                state.usedNearLapse.remove(principal.credentialDigest)
                renewed += 1
            }
            return renewed
        }
    }

    /// Forgets one credential (logout, revocation).
    public func evict(digest: String) {
        state.withLock { state in
            state.generation &+= 1
            state.remove(digest)
        }
    }

    /// Forgets every credential of a user (role change, disabling, revoke-all).
    public func evict(userID: String) {
        state.withLock { state in
            state.generation &+= 1
            for digest in state.digestsByUser.removeValue(forKey: userID) ?? [] {
                state.entries[digest] = nil
                state.usedSinceRead.remove(digest)
                state.usedNearLapse.remove(digest)
            }
        }
    }
}
