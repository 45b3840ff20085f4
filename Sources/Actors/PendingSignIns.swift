import Domain
import Foundation

/// Browser sign-ins that went to the identity provider and have not come back yet, by `state`.
/// Each is taken at most once and lives at most `lifetime`; the number waiting is bounded, the
/// oldest giving way, so unauthenticated callers cannot grow it without limit.
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

    private var waiting: [String: SignIn] = [:]
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

    public func begin(state: String, _ signIn: SignIn) {
        if waiting.count >= capacity {
            let now = clock.now()
            waiting = waiting.filter { now.timeIntervalSince($0.value.startedAt) < lifetime }
            if waiting.count >= capacity, let oldest = waiting.min(by: { $0.value.startedAt < $1.value.startedAt }) {
                waiting[oldest.key] = nil
            }
        }
        waiting[state] = signIn
    }

    /// The sign-in started with `state`, removed so it cannot complete twice; nil when unknown or too old.
    public func take(state: String) -> SignIn? {
        guard let signIn = waiting.removeValue(forKey: state) else { return nil }
        guard clock.now().timeIntervalSince(signIn.startedAt) < lifetime else { return nil }
        return signIn
    }
}
