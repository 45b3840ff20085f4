import Domain
import SQLiteNIO

extension SQLiteStore {
    /// One statement: the newest entries, each row also carrying the figures (subqueries that
    /// depend on no row, which SQLite computes once); the figures alone, a second statement, when
    /// the page is empty (a caller with no entries yet).
    ///
    /// SQLite compiles every statement anew (SQLiteNIO keeps none prepared), and compiling was most
    /// of this one's cost: the shape before, the figures' row left-joined to the page as a
    /// subquery, compiled to a co-routine, a materialised page and a sort for the join's order,
    /// twice the work of this one (docs/benchmarks.md).
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
        let columns = figures.joined(separator: ", ")
        let figuresAlone = (statement: "SELECT " + columns, binds: binds.values)
        let page = query.recent.map { recent in
            var pageBinds = binds
            let statement = Self.pageStatement(recent, columns: columns + ", *", after: nil, binds: &pageBinds)
            return (statement: statement, binds: pageBinds.values)
        }

        let (first, recent) = try await read { connection -> (SQLiteRow?, [SQLiteRow]) in
            if let page {
                let rows = try await connection.rows(page.statement, page.binds)
                if let first = rows.first { return (first, rows) }
            }
            return (try await connection.rows(figuresAlone.statement, figuresAlone.binds).first, [])
        }
        guard let first else { throw CorruptRow(column: "overview") }
        var overview = Overview()
        overview.counts = try query.counts.indices.map { try first.int("overview_count_\($0)") }
        if query.users != nil {
            overview.activeUsers = try first.int("overview_users")
            overview.activeUsersWithMFA = try first.int("overview_users_mfa")
        }
        if query.countsOrganizations { overview.organizations = try first.int("overview_organizations") }
        overview.recent = try recent.map(Self.event)
        return overview
    }
}
