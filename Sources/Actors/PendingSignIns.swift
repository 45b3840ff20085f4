import Domain
import Foundation

/// Browser sign-ins that went to the identity provider and have not come back yet, by `state`.
/// Each is taken at most once and lives at most `lifetime`; the number waiting is bounded.
///
/// Anyone can begin one (`GET /api/auth/oidc/start` needs no credential), so when the table is
/// full, room is made from the clients that hold the most: the lapsed ones go first, then the
/// oldest of whichever client (an IPv4 address, an IPv6 /48: one tunnel broker's /48 holds 65,536
/// /64s) has the most waiting. One client beginning sign-ins in a loop pushes out its own, not
/// everyone else's (a known gap until the thirtieth session: the oldest anywhere gave way, so one
/// client could cancel every sign-in under way). Room is made an eighth of the capacity at a time,
/// so each full scan is paid for by that many sign-ins begun.
public actor PendingSignIns {
    public struct SignIn: Sendable, Equatable {
        public var codeVerifier: String
        public var nonce: String
        public var startedAt: Date
        /// Who the browser that began it was signed in as, if anyone: the session its sign-in
        /// replaces. (The callback cannot tell: it comes from the provider's site, and the
        /// session cookie is sent with same-site navigations only.)
        public var replacing: Principal?

        public init(codeVerifier: String, nonce: String, startedAt: Date, replacing: Principal? = nil) {
            self.codeVerifier = codeVerifier
            self.nonce = nonce
            self.startedAt = startedAt
            self.replacing = replacing
        }
    }

    private struct Waiting {
        var signIn: SignIn
        /// `client(of:)` of the address that began it.
        var client: String
    }

    private var waiting: [String: Waiting] = [:]
    private let capacity: Int
    private let lifetime: TimeInterval
    private let clock: WallClock

    public init(capacity: Int = 10_000, lifetime: TimeInterval = 600, clock: WallClock = .system) {
        precondition(capacity > 0 && lifetime > 0)
        self.capacity = capacity
        self.lifetime = lifetime
        self.clock = clock
    }

    /// Sign-ins waiting now.
    public var count: Int { waiting.count }

    /// - Parameter address: the client address that began it.
    public func begin(state: String, _ signIn: SignIn, from address: String) {
        if waiting.count >= capacity { makeRoom() }
        waiting[state] = Waiting(signIn: signIn, client: Self.client(of: address))
    }

    /// Who counts as one client here: an IPv4 address, or the /48 of an IPv6 one; anything else
    /// (`unknown`) as itself.
    static func client(of address: String) -> String {
        guard let bytes = AddressRange.bytes(of: address) else { return address }
        guard bytes.count == 16 else { return AddressRange.clientKey(of: bytes) }
        let groups = stride(from: 0, to: 6, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        return groups.joined(separator: ":") + "::/48"
    }

    /// The sign-in started with `state`, removed so it cannot complete twice; nil when unknown or too old.
    public func take(state: String) -> SignIn? {
        guard let entry = waiting.removeValue(forKey: state) else { return nil }
        guard clock.now().timeIntervalSince(entry.signIn.startedAt) < lifetime else { return nil }
        return entry.signIn
    }

    /// Drops the lapsed sign-ins, then, until an eighth of the capacity is free, the oldest of the
    /// clients holding the most: every client is cut down to one level, and some of those at it,
    /// picked at random, lose one more (the oldest first would pick the people who began before a
    /// flood from many addresses, whose sign-ins are the newest).
    private func makeRoom() {
        let now = clock.now()
        waiting = waiting.filter { now.timeIntervalSince($0.value.signIn.startedAt) < lifetime }
        let excess = waiting.count - (capacity - max(1, capacity / 8))
        guard excess > 0 else { return }
        var byClient: [String: [(state: String, startedAt: Date)]] = [:]
        for (state, entry) in waiting {
            byClient[entry.client, default: []].append((state, entry.signIn.startedAt))
        }
        let counts = byClient.values.map(\.count)
        func removed(above level: Int) -> Int { counts.reduce(0) { $0 + max(0, $1 - level) } }
        // The lowest level that removes no more than `excess` (removing everything would be more).
        var lower = 0
        var upper = counts.max() ?? 0
        while lower < upper {
            let middle = (lower + upper) / 2
            if removed(above: middle) <= excess { upper = middle } else { lower = middle + 1 }
        }
        let level = upper
        var remaining = excess - removed(above: level)
        var oldestAtLevel: [(state: String, startedAt: Date)] = []
        for var states in byClient.values where states.count >= level {
            states.sort { $0.startedAt < $1.startedAt }
            for dropped in states.prefix(states.count - level) { waiting[dropped.state] = nil }
            if remaining > 0, level > 0 { oldestAtLevel.append(states[states.count - level]) }
        }
        // Fewer than the clients at the level (one level lower would have removed too many).
        oldestAtLevel.shuffle()
        for dropped in oldestAtLevel where remaining > 0 {
            waiting[dropped.state] = nil
            remaining -= 1
        }
    }
}
