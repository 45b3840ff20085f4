import Actors
import Domain
import Foundation

/// Sign-ins and workspace launches over the last 24 hours (by hour) and the last 7 days (by day),
/// counted from the audit trail within the caller's scope, as the dashboard's figures are:
/// everyone's for an administrator, their organisation's, or their own. Each count is an indexed
/// count of the trail since a boundary (30 boundaries, three actions); a result is kept a minute
/// per scope, so a busy dashboard does not repeat them.
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

    static func count(store: any Store, scope: AuditScope, now: Date) async throws -> Activity {
        /// Entries of `actions` since `now` minus `seconds`.
        func since(_ seconds: TimeInterval, _ actions: [AuditAction]) async throws -> Int {
            var total = 0
            for action in actions { total += try await store.count(action: action, since: now - seconds, scope: scope) }
            return total
        }
        func series(bucket: TimeInterval, count: Int) async throws -> Activity.Series {
            // Counts since each boundary, the oldest first and "since now" (none) last; each
            // bucket is the difference between its boundary's count and the next one's.
            var cumulative: [(signIns: Int, launches: Int)] = []
            for index in stride(from: count, through: 1, by: -1) {
                let seconds = bucket * Double(index)
                cumulative.append((try await since(seconds, [.login, .ssoLogin]), try await since(seconds, [.launchWorkspace])))
            }
            cumulative.append((0, 0))
            let signIns = (0..<count).map { max(0, cumulative[$0].signIns - cumulative[$0 + 1].signIns) }
            let launches = (0..<count).map { max(0, cumulative[$0].launches - cumulative[$0 + 1].launches) }
            let starts = (0..<count).map { now - bucket * Double(count - $0) }
            return Activity.Series(starts: starts, signIns: signIns, launches: launches)
        }
        return Activity(hours: try await series(bucket: 3_600, count: 24), days: try await series(bucket: 86_400, count: 7))
    }
}
