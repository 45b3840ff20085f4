import Domain
import SQLiteNIO

extension SQLiteStore {
    /// One statement: a row of the figures, each a subquery, joined to the newest entries (the
    /// figures' row alone when there are none).
    public func overview(_ query: OverviewQuery) async throws -> Overview {
        guard query.recent?.before == nil else { return try await overviewInParts(query) }
        var binds = NumberedBinds()
        var figures = ["1 AS overview"]
        for (index, count) in query.counts.enumerated() {
            figures.append("(\(Self.countStatement(count, binds: &binds))) AS overview_count_\(index)")
        }
        if let users = query.users {
            // The tally the triggers of `users` keep (Schema, migration 16). An organisation's id is
            // never empty: '' is the key of the users in none, which no organisation scope reads.
            let scope =
                switch users {
                case .everyone: ""
                case .organization(let id) where id.isEmpty: " WHERE 0"
                case .organization(let id): " WHERE organization_id = \(binds.mark(.text(id)))"
                }
            figures.append("(SELECT COALESCE(SUM(active), 0) FROM user_tallies\(scope)) AS overview_users")
            figures.append("(SELECT COALESCE(SUM(active_with_mfa), 0) FROM user_tallies\(scope)) AS overview_users_mfa")
        }
        if query.countsOrganizations { figures.append("(SELECT COUNT(*) FROM organizations) AS overview_organizations") }
        var statement = "SELECT * FROM (SELECT " + figures.joined(separator: ", ") + ") AS figures"
        if let recent = query.recent {
            statement +=
                " LEFT JOIN (" + Self.pageStatement(recent, columns: "*", after: Self.newest, binds: &binds)
                + ") AS recent ON 1 ORDER BY recent.timestamp DESC, recent.seq DESC"
        }
        let rows = try await read { connection in try await connection.rows(statement, binds.values) }
        guard let first = rows.first else { throw CorruptRow(column: "overview") }
        var overview = Overview()
        overview.counts = try query.counts.indices.map { try first.int("overview_count_\($0)") }
        if query.users != nil {
            overview.activeUsers = try first.int("overview_users")
            overview.activeUsersWithMFA = try first.int("overview_users_mfa")
        }
        if query.countsOrganizations { overview.organizations = try first.int("overview_organizations") }
        if query.recent != nil {
            overview.recent = try rows.filter { $0.optionalString("id") != nil }.map(Self.event)
        }
        return overview
    }
}
