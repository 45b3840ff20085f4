import Actors
import Domain
import Foundation

/// Reads again, a hundred at a time, the stored tokens behind cached identities that are in
/// use and about to lapse (`TokenCache.dueForRenewal`), and renews or forgets each as a first
/// request with it would be judged (`StoredIdentities`). Without it, every token in use was read
/// alone, with its account and organisation, on the request that found its entry expired: three
/// store reads per token every `NEOSC_CACHE_TTL`, which under load cost more than the rest of an
/// authenticated request. A change made elsewhere still applies within the cache's lifetime,
/// counted from the start of the read that renewed an entry.
public struct TokenRenewal: Sendable {
    let store: any Store
    let tokenCache: TokenCache
    let clock: WallClock

    public init(store: any Store, tokenCache: TokenCache, clock: WallClock) {
        self.store = store
        self.tokenCache = tokenCache
        self.clock = clock
    }

    public struct Outcome: Sendable, Equatable {
        public var renewed = 0
        public var forgotten = 0

        public init(renewed: Int = 0, forgotten: Int = 0) {
            self.renewed = renewed
            self.forgotten = forgotten
        }
    }

    /// Renews the entries that lapse within `margin`, one batch per `batchSize` tokens: `renewed`
    /// counts the entries read again, `forgotten` the tokens that no longer stand for anyone.
    /// A hundred, not 500: a batch holds a reader connection while it reads (about 13 ms for 500
    /// under the dashboard's load), and the requests behind it were the page's slowest percent
    /// (p99 over five runs, 64 connections: median 24.0 ms with 500, 20.9 ms with 100).
    @discardableResult
    public func renewDue(within margin: TimeInterval, batchSize: Int = 100) async throws -> Outcome {
        try await renew(tokenCache.dueForRenewal(within: margin), batchSize: batchSize)
    }

    /// Renews the entries used near their lapse since the last call (`TokenCache.lapsingInUse`),
    /// as `renewDue` does.
    @discardableResult
    public func renewLapsingInUse(batchSize: Int = 100) async throws -> Outcome {
        try await renew(tokenCache.lapsingInUse(), batchSize: batchSize)
    }

    /// The entries asked for by a use near their lapse (`TokenCache.renewalWanted`).
    public var wanted: AsyncStream<Void> { tokenCache.renewalWanted }

    /// The margin of a scheduled pass: the cache's, within which a use asks at once too.
    public var margin: TimeInterval { tokenCache.renewalMargin }

    /// How long a cached entry lives past its read (the cache's): what the passes are timed by.
    public var lifetime: TimeInterval { tokenCache.lifetime }

    private func renew(_ due: [String], batchSize: Int) async throws -> Outcome {
        var outcome = Outcome()
        for start in stride(from: 0, to: due.count, by: max(1, batchSize)) {
            let batch = Array(due[start..<min(start + max(1, batchSize), due.count)])
            // Each batch its own ticket: an eviction while one reads spoils that batch alone.
            let ticket = tokenCache.fillTicket()
            let readAt = clock.now()
            let admissions = try await StoredIdentities(store: store).admissions(of: batch, at: readAt)
            var current: [Identity] = []
            var gone: [String] = []
            for (digest, admission) in zip(batch, admissions) {
                switch admission {
                case .success(let identity): current.append(identity)
                case .failure: gone.append(digest)
                }
            }
            outcome.renewed += tokenCache.renew(current, gone: gone, readAt: readAt, ticket: ticket)
            outcome.forgotten += gone.count
        }
        return outcome
    }
}
