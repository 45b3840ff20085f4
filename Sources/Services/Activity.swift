import Actors
import Domain
import Foundation

/// Sign-ins and workspace launches over the last 24 hours (by hour) and the last 7 days (by day),
/// counted from the audit trail within the caller's scope, as the dashboard's figures are:
/// everyone's for an administrator, their organisation's, or their own. One read of the week's
/// sign-ins and launches (their times only), bucketed here; a result is kept a minute per scope.
/// (The first version counted since each of 30 boundaries: 93 queries a view, and a 4 s p50 under
/// load with a scope per user; docs/benchmarks.md.)
public struct Activity: Sendable, Equatable {
    /// Buckets oldest first; `starts[i]` is where bucket `i` begins.
    public struct Series: Sendable, Equatable {
        public var starts: [Date]
        public var signIns: [Int]
        public var launches: [Int]
    }

    public var hours: Series
    public var days: Series
}

public struct ActivityCounter: Sendable {
    private let store: any Store
    private let clock: WallClock
    private let recent: RecentValues<AuditScope, Activity>

    public init(store: any Store, clock: WallClock) {
        self.store = store
        self.clock = clock
        recent = RecentValues(maxAge: 60, capacity: 1_000, clock: clock)
    }

    public func activity(for principal: Principal) async throws -> Activity {
        let scope: AuditScope =
            principal.isAdmin ? .everyone : principal.organizationID.map { .organization($0) } ?? .user(principal.userID)
        return try await recent.value(for: scope) { [store, clock] in
            try await Self.count(store: store, scope: scope, now: clock.now())
        }
    }

    /// Entries read for one chart at most; past it the oldest buckets are short (a trail that
    /// busy is a store to aggregate in, not to read).
    static let readLimit = 200_000

    static func count(store: any Store, scope: AuditScope, now: Date) async throws -> Activity {
        let occurrences = try await store.occurrences(
            of: [.login, .ssoLogin, .launchWorkspace], since: now - 7 * 86_400, scope: scope, limit: readLimit)
        func series(bucket: TimeInterval, count: Int) -> Activity.Series {
            var signIns = Array(repeating: 0, count: count)
            var launches = Array(repeating: 0, count: count)
            let start = now - bucket * Double(count)
            for occurrence in occurrences where occurrence.at >= start && occurrence.at <= now {
                let index = min(count - 1, Int((occurrence.at.timeIntervalSince(start) / bucket).rounded(.down)))
                if occurrence.action == .launchWorkspace { launches[index] += 1 } else { signIns[index] += 1 }
            }
            return Activity.Series(
                starts: (0..<count).map { start + bucket * Double($0) }, signIns: signIns, launches: launches)
        }
        return Activity(hours: series(bucket: 3_600, count: 24), days: series(bucket: 86_400, count: 7))
    }
}
