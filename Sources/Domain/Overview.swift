import Foundation

/// What an overview of the system (the dashboard, `/api/stats`) reads from the store: counts of
/// audit entries, the active users, the organisations, and the newest entries the caller may see.
/// A store reads it in one round trip where it can (`Store.overview`): under load each statement
/// is a wait for the store and another for the request to be resumed, and a view with five of
/// them was the dashboard's slowest percent (issue #12).
public struct OverviewQuery: Sendable, Hashable {
    /// How many entries with one of `actions` since `since` lie within `scope`
    /// (`AuditStore.count(of:since:scope:)`).
    public struct Count: Sendable, Hashable {
        public var actions: [AuditAction]
        public var since: Date
        public var scope: AuditScope

        public init(_ actions: [AuditAction], since: Date, scope: AuditScope) {
            self.actions = actions
            self.since = since
            self.scope = scope
        }
    }

    /// Whose active users are counted (`UserStore.activeUserCounts(organizationID:)`).
    public enum Users: Sendable, Hashable {
        case everyone
        case organization(String)
    }

    public var counts: [Count]
    /// nil: none counted.
    public var users: Users?
    public var countsOrganizations: Bool
    /// The newest entries to list (`before` is not set), or nil for none.
    public var recent: AuditQuery?

    public init(counts: [Count] = [], users: Users? = nil, countsOrganizations: Bool = false, recent: AuditQuery? = nil) {
        self.counts = counts
        self.users = users
        self.countsOrganizations = countsOrganizations
        self.recent = recent
    }
}

/// An `OverviewQuery`'s answer; what it did not ask for is zero or empty.
public struct Overview: Sendable, Equatable {
    /// One per `OverviewQuery.counts`, in its order.
    public var counts: [Int]
    public var activeUsers: Int
    public var activeUsersWithMFA: Int
    public var organizations: Int
    public var recent: [AuditEvent]

    public init(counts: [Int] = [], activeUsers: Int = 0, activeUsersWithMFA: Int = 0, organizations: Int = 0, recent: [AuditEvent] = []) {
        self.counts = counts
        self.activeUsers = activeUsers
        self.activeUsersWithMFA = activeUsersWithMFA
        self.organizations = organizations
        self.recent = recent
    }
}

extension Store {
    /// The overview read part by part, a call per figure: what `overview` is for a store with no
    /// single read of it.
    public func overviewInParts(_ query: OverviewQuery) async throws -> Overview {
        var overview = Overview()
        for count in query.counts {
            overview.counts.append(try await self.count(of: count.actions, since: count.since, scope: count.scope))
        }
        if let users = query.users {
            let organizationID: String? =
                switch users {
                case .everyone: nil
                case .organization(let id): id
                }
            (overview.activeUsers, overview.activeUsersWithMFA) = try await activeUserCounts(organizationID: organizationID)
        }
        if query.countsOrganizations { overview.organizations = try await organizations().count }
        if let recent = query.recent { overview.recent = try await events(recent) }
        return overview
    }

    public func overview(_ query: OverviewQuery) async throws -> Overview {
        try await overviewInParts(query)
    }
}
