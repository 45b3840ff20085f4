import Domain
import Foundation
import Synchronization

/// Token buckets for the `rate_limit` policies, one per (policy, user or address): `requests`
/// tokens, refilled continuously over `perSeconds`. Memory is bounded by `capacity` buckets: past
/// it, the buckets that are full again go first (forgetting them changes nothing), then, if that
/// is not enough, the tenth least recently used; both in one pass, so a stream of new keys costs
/// one pass per tenth of the capacity, not a scan per key.
///
/// A lock rather than an actor, like `AddressCensus`: every limited request asks it, on the event
/// loop that serves the request, and a hop to an actor and back cost that request two thread
/// switches (measured: 20 policies with three rate limits took the auth scenario from 0.77 to
/// 0.79–0.82 of its throughput without policies; docs/benchmarks.md). Nothing in it awaits. The
/// buckets are split into shards by key, each under its own lock with its share of the
/// capacity, so that the pass that makes room (a flood of new addresses causes it) holds one
/// shard's lock over a sixteenth of the buckets while the other event loop goes on with the rest.
public final class RateLimits: Sendable {
    public struct Outcome: Sendable, Equatable {
        public var allowed: Bool
        /// Requests left now.
        public var remaining: Int
        /// Whole seconds until a refused request could pass (0 when allowed).
        public var retryAfter: Int
        /// Whole seconds until the bucket is full again.
        public var reset: Int
    }

    /// A bucket's name: its policy and whom it counts (a user id, an address), hashed as two
    /// strings rather than joined into a new one per request.
    public struct Key: Hashable, Sendable {
        public var policy: String
        public var subject: String

        public init(policy: String, subject: String) {
            self.policy = policy
            self.subject = subject
        }
    }

    /// One bucket to take a token from.
    public struct Take: Sendable {
        public var key: Key
        public var requests: Int
        public var perSeconds: Int

        public init(key: Key, requests: Int, perSeconds: Int) {
            self.key = key
            self.requests = requests
            self.perSeconds = perSeconds
        }
    }

    private struct Bucket {
        var tokens: Double
        var updated: Date
        var requests: Int
        var rate: Double

        func isFull(at now: Date) -> Bool {
            tokens + max(0, now.timeIntervalSince(updated)) * rate >= Double(requests)
        }
    }

    private final class Shard: Sendable {
        let buckets = Mutex<[Key: Bucket]>([:])
    }

    private let shards: [Shard]
    /// Buckets per shard.
    private let shardCapacity: Int
    private let clock: WallClock

    /// - Parameter capacity: the most buckets held at once (split evenly over the shards; a small
    ///   capacity, as tests use, is one shard).
    public init(capacity: Int = 100_000, clock: WallClock = .system) {
        precondition(capacity > 0)
        let shardCount = capacity >= 1_024 ? 16 : 1
        self.shards = (0..<shardCount).map { _ in Shard() }
        self.shardCapacity = capacity / shardCount
        self.clock = clock
    }

    public var count: Int { shards.reduce(0) { total, shard in total + shard.buckets.withLock { $0.count } } }

    private func shard(_ key: Key) -> Shard {
        shards.count == 1 ? shards[0] : shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
    }

    /// Takes one token from each of `count` buckets (`take(i)` names the i-th), each of them
    /// counting the request; answers the first that had none, or nil when every one had one.
    /// No array is made for the buckets or their answers: every limited request comes this way.
    public func firstRefusal(of count: Int, _ take: (Int) -> Take) -> (index: Int, outcome: Outcome)? {
        let now = clock.now()
        var refusal: (index: Int, outcome: Outcome)?
        for index in 0..<count {
            let take = take(index)
            let outcome = shard(take.key).buckets.withLock {
                Self.take(take.key, requests: take.requests, perSeconds: take.perSeconds, from: &$0, capacity: shardCapacity, at: now)
            }
            if refusal == nil, !outcome.allowed { refusal = (index, outcome) }
        }
        return refusal
    }

    /// Takes one token from `key`'s bucket if it has one.
    public func take(_ key: Key, requests: Int, perSeconds: Int) -> Outcome {
        let now = clock.now()
        return shard(key).buckets.withLock {
            Self.take(key, requests: requests, perSeconds: perSeconds, from: &$0, capacity: shardCapacity, at: now)
        }
    }

    private static func take(
        _ key: Key, requests: Int, perSeconds: Int, from buckets: inout [Key: Bucket], capacity: Int, at now: Date
    ) -> Outcome {
        let rate = Double(requests) / Double(perSeconds)
        // Looked up once more only when the shard is full; otherwise the bucket is found (or made)
        // and changed in place, one hash of the key.
        if buckets.count >= capacity, buckets[key] == nil { evict(&buckets, capacity: capacity, now: now) }
        return Self.take(
            from: &buckets[key, default: Bucket(tokens: Double(requests), updated: now, requests: requests, rate: rate)],
            requests: requests, rate: rate, at: now)
    }

    private static func take(from bucket: inout Bucket, requests: Int, rate: Double, at now: Date) -> Outcome {
        bucket.tokens = min(Double(requests), bucket.tokens + max(0, now.timeIntervalSince(bucket.updated)) * rate)
        bucket.updated = max(bucket.updated, now)
        bucket.requests = requests
        bucket.rate = rate
        let allowed = bucket.tokens >= 1
        if allowed { bucket.tokens -= 1 }
        let retryAfter = allowed ? 0 : max(1, Int(((1 - bucket.tokens) / rate).rounded(.up)))
        let reset = Int(((Double(requests) - bucket.tokens) / rate).rounded(.up))
        return Outcome(allowed: allowed, remaining: Int(bucket.tokens.rounded(.down)), retryAfter: retryAfter, reset: reset)
    }

    private static func evict(_ buckets: inout [Key: Bucket], capacity: Int, now: Date) {
        buckets = buckets.filter { !$0.value.isFull(at: now) }
        let target = capacity - max(1, capacity / 10)
        let excess = buckets.count - target
        guard excess > 0 else { return }
        // The least recently used tenth, by a cut-off estimated from a sample (a sort of every
        // bucket would hold the lock too long): those used before it, then as many used at it as
        // are still needed (a burst can share one instant, and must not empty the shard). The
        // cut-off is a bucket's own time, so at least one goes.
        var sample: [Date] = []
        sample.reserveCapacity(1_000)
        for bucket in buckets.values.prefix(1_000) { sample.append(bucket.updated) }
        sample.sort()
        let cutoff = sample[min(sample.count - 1, sample.count * excess / buckets.count)]
        var leaving: [Key] = []
        leaving.reserveCapacity(excess)
        for (key, bucket) in buckets where bucket.updated < cutoff && leaving.count < excess { leaving.append(key) }
        for (key, bucket) in buckets where bucket.updated == cutoff && leaving.count < excess { leaving.append(key) }
        for key in leaving { buckets[key] = nil }
    }
}
