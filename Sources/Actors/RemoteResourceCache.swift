import Domain
import Foundation

/// A document fetched from another service (an OIDC discovery document, a JWKS) and kept for
/// `maxAge`. Concurrent callers share one fetch. A caller that found the document wanting (a
/// token names a key it lacks) may ask for a fresh copy, but at most once per
/// `minimumRefreshInterval`, so a stream of tokens with made-up key ids cannot turn NeoSC into a
/// flood against the provider. When a refresh fails, the last good copy is kept and served; with
/// no copy at all, the failure is answered again at once until `minimumRefreshInterval` has
/// passed, so an outage costs callers one connect timeout per interval, not one each.
public actor RemoteResourceCache<Resource: Sendable> {
    public typealias Fetch = @Sendable () async throws -> Resource

    private var resource: Resource?
    private var fetchedAt: Date?
    private var lastAttemptAt: Date?
    /// Why the last fetch failed, while there is no copy to serve instead.
    private var lastFailure: (any Error)?
    private var inFlight: Task<Resource, any Error>?
    private let fetch: Fetch
    private let maxAge: TimeInterval
    private let minimumRefreshInterval: TimeInterval
    private let clock: WallClock

    public init(
        maxAge: TimeInterval, minimumRefreshInterval: TimeInterval, clock: WallClock = .system,
        fetch: @escaping Fetch
    ) {
        self.maxAge = maxAge
        self.minimumRefreshInterval = minimumRefreshInterval
        self.clock = clock
        self.fetch = fetch
    }

    /// The cached document while it is fresh; otherwise a fetched one (or, when fetching fails,
    /// the stale one if there is any).
    public func current() async throws -> Resource {
        let now = clock.now()
        if let resource, let fetchedAt, now.timeIntervalSince(fetchedAt) < maxAge {
            return resource
        }
        if resource == nil, inFlight == nil, let lastFailure, let lastAttemptAt,
            now.timeIntervalSince(lastAttemptAt) < minimumRefreshInterval
        {
            throw lastFailure
        }
        return try await refreshed(keepingStaleOnFailure: true)
    }

    /// Whether a copy is held, fresh or stale, answered at once. With none, a fetch is started
    /// in the background unless one is under way or the last attempt failed less than
    /// `minimumRefreshInterval` ago, so asking often (a health probe) costs Pomerium nothing more.
    public func hasCopyElseFetch() -> Bool {
        if resource != nil { return true }
        let throttled = lastAttemptAt.map { clock.now().timeIntervalSince($0) < minimumRefreshInterval } ?? false
        if inFlight == nil, !throttled {
            Task { _ = try? await self.current() }
        }
        return false
    }

    /// A freshly fetched document, unless one was fetched or attempted less than
    /// `minimumRefreshInterval` ago; then nil, and the caller should go with what it has.
    public func refreshIfAllowed() async throws -> Resource? {
        if let lastAttemptAt, clock.now().timeIntervalSince(lastAttemptAt) < minimumRefreshInterval, inFlight == nil {
            return nil
        }
        return try await refreshed(keepingStaleOnFailure: false)
    }

    private func refreshed(keepingStaleOnFailure: Bool) async throws -> Resource {
        let task: Task<Resource, any Error>
        if let inFlight {
            task = inFlight
        } else {
            let fetch = self.fetch
            task = Task { try await fetch() }
            inFlight = task
            lastAttemptAt = clock.now()
        }
        do {
            let fetched = try await task.value
            if inFlight == task {
                inFlight = nil
                resource = fetched
                fetchedAt = clock.now()
                lastFailure = nil
            }
            return fetched
        } catch {
            if inFlight == task {
                inFlight = nil
                lastFailure = error
            }
            if keepingStaleOnFailure, let resource { return resource }
            throw error
        }
    }
}
