import Domain
import Foundation

/// Token buckets for the `rate_limit` policies, one per (policy, user or address): `requests`
/// tokens, refilled continuously over `perSeconds`. Memory is bounded: past `capacity` buckets,
/// full ones (which say nothing a missing one would not) go first, then the longest untouched.
public actor RateLimits {
    public struct Outcome: Sendable, Equatable {
        public var allowed: Bool
        /// Requests left now.
        public var remaining: Int
        /// Whole seconds until a refused request could pass (0 when allowed).
        public var retryAfter: Int
        /// Whole seconds until the bucket is full again.
        public var reset: Int
    }

    private struct Bucket {
        var tokens: Double
        var updated: Date
    }

    private var buckets: [String: Bucket] = [:]
    private let capacity: Int
    private let clock: WallClock

    public init(capacity: Int = 100_000, clock: WallClock = .system) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.clock = clock
    }

    public var count: Int { buckets.count }

    /// Takes one token from `key`'s bucket if it has one.
    public func take(_ key: String, requests: Int, perSeconds: Int) -> Outcome {
        let now = clock.now()
        let rate = Double(requests) / Double(perSeconds)
        var bucket =
            buckets[key]
            ?? {
                if buckets.count >= capacity { evict(now: now) }
                return Bucket(tokens: Double(requests), updated: now)
            }()
        bucket.tokens = min(Double(requests), bucket.tokens + max(0, now.timeIntervalSince(bucket.updated)) * rate)
        bucket.updated = now
        let allowed = bucket.tokens >= 1
        if allowed { bucket.tokens -= 1 }
        buckets[key] = bucket
        let retryAfter = allowed ? 0 : Int(((1 - bucket.tokens) / rate).rounded(.up))
        let reset = Int(((Double(requests) - bucket.tokens) / rate).rounded(.up))
        return Outcome(allowed: allowed, remaining: Int(bucket.tokens.rounded(.down)), retryAfter: max(retryAfter, allowed ? 0 : 1), reset: reset)
    }

    private func evict(now: Date) {
        // Buckets untouched for an hour go first (a limit over a longer window forgets a client
        // that paused that long: the price of bounded memory), then the longest untouched.
        let stale = buckets.filter { now.timeIntervalSince($0.value.updated) > 3_600 }.map(\.key)
        for key in stale { buckets[key] = nil }
        if buckets.count >= capacity, let oldest = buckets.min(by: { $0.value.updated < $1.value.updated }) {
            buckets[oldest.key] = nil
        }
    }
}
