import Domain
import Foundation
import SQLiteNIO

extension SQLiteStore: SessionStore {
    public func start(_ session: WorkspaceSession, limit: Int) async throws {
        try await write(.inItsLastStatement) { connection in
            // The count and the insert in one statement (one step of the writer's, which every
            // change waits its turn for), inside the write transaction: no other launch can slip
            // between them. No row back: the user is at the limit (as MongoStore answers it).
            let inserted = try await connection.rows(
                """
                INSERT INTO sessions (id, user_id, user_email, workspace_id, workspace_name, status, started_at,
                    ended_at, expires_at, last_seen_at, ip_address, mfa_verified, end_reason, recording)
                SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14
                WHERE (SELECT COUNT(*) FROM sessions WHERE user_id = ?2 AND status = 'active') < ?15
                RETURNING id
                """,
                [
                    .text(session.id), .text(session.userID), .text(session.userEmail), .text(session.workspaceID),
                    .text(session.workspaceName), .text(session.status.rawValue), .init(session.startedAt),
                    .init(session.endedAt), .init(session.expiresAt), .init(session.lastSeenAt),
                    .text(session.ipAddress), .init(session.mfaVerified), .init(session.endReason), .init(session.recording),
                    .init(limit),
                ])
            if inserted.isEmpty { throw DomainError.sessionLimitReached(limit) }
        }
    }

    public func session(id: String) async throws -> WorkspaceSession? {
        try await read {
            try await $0.rows("SELECT * FROM sessions WHERE id = ?", [.text(id)]).first.map(Self.session)
        }
    }

    public func sessions(userID: String?, status: SessionStatus?, limit: Int) async throws -> [WorkspaceSession] {
        let binds: [SQLiteData] = [userID.map { .text($0) }, status.map { .text($0.rawValue) }].compactMap { $0 }
        return try await read {
            try await $0.rows(Self.sessionsQuery(byUser: userID != nil, byStatus: status != nil, limit: limit), binds)
                .map(Self.session)
        }
    }

    /// The statement `sessions(userID:status:limit:)` runs, with a condition only for the filters
    /// given: one that said "this user, if any" (`?1 IS NULL OR user_id = ?1`) could use no index,
    /// and read every session there ever was, by start, to find one user's or the active ones.
    static func sessionsQuery(byUser: Bool, byStatus: Bool, limit: Int) -> String {
        let filtered =
            switch (byUser, byStatus) {
            case (true, true): "SELECT * FROM sessions WHERE user_id = ? AND status = ?"
            case (true, false): "SELECT * FROM sessions WHERE user_id = ?"
            case (false, true): "SELECT * FROM sessions WHERE status = ?"
            case (false, false): "SELECT * FROM sessions"
            }
        return filtered + " ORDER BY started_at DESC, id" + limitClause(limit)
    }

    public func end(id: String, _ ending: SessionEnding, at now: Date) async throws -> WorkspaceSession? {
        try await write {
            try await Self.endActive(where: "id = ?", [.text(id)], ending, at: now, on: $0).first
        }
    }

    public func end(
        userID: String, workspaceID: String, _ ending: SessionEnding, at now: Date
    ) async throws
        -> WorkspaceSession?
    {
        try await write(.inItsLastStatement) { connection in
            // With several active sessions on one workspace, stop ends the newest: found and
            // ended in one statement (one step of the writer's).
            try await Self.endActive(
                where: Self.newestActiveCondition, [.text(userID), .text(workspaceID)], ending, at: now, on: connection
            ).first
        }
    }

    /// A user's newest active session on a workspace, its id: read through
    /// `sessions_user_workspace` (schema 15), the user's own sessions, not everyone's on the workspace.
    static let newestActiveSession = """
        SELECT id FROM sessions WHERE user_id = ? AND workspace_id = ? AND status = 'active'
        ORDER BY started_at DESC LIMIT 1
        """

    public func endAll(userID: String, _ ending: SessionEnding, at now: Date) async throws -> [WorkspaceSession] {
        try await write {
            try await Self.endActive(where: "user_id = ?", [.text(userID)], ending, at: now, on: $0)
        }
    }

    public func activeCount(userID: String) async throws -> Int {
        try await read { try await Self.activeCount(userID: userID, on: $0) }
    }

    public func activeCountsByWorkspace() async throws -> [String: Int] {
        try await read { connection in
            var counts: [String: Int] = [:]
            for row in try await connection.rows(
                "SELECT workspace_id, COUNT(*) AS n FROM sessions WHERE status = 'active' GROUP BY workspace_id")
            {
                counts[try row.string("workspace_id")] = try row.int("n")
            }
            return counts
        }
    }

    public func activeCount(organizationID: String?) async throws -> Int {
        try await read { connection in
            let row: SQLiteRow?
            if let organizationID {
                row = try await connection.rows(
                    """
                    SELECT COUNT(*) AS n FROM sessions JOIN users ON users.id = sessions.user_id
                    WHERE sessions.status = 'active' AND users.organization_id = ?
                    """, [.text(organizationID)]
                ).first
            } else {
                row = try await connection.rows("SELECT COUNT(*) AS n FROM sessions WHERE status = 'active'").first
            }
            return try row?.int("n") ?? 0
        }
    }

    public func touch(id: String, at now: Date) async throws -> WorkspaceSession? {
        try await write {
            try await $0.rows(
                "UPDATE sessions SET last_seen_at = ? WHERE id = ? AND status = 'active' RETURNING *", [.init(now), .text(id)]
            ).first.map(Self.session)
        }
    }

    private static func activeCount(userID: String, on connection: SQLiteConnection) async throws -> Int {
        try await connection.rows(
            "SELECT COUNT(*) AS n FROM sessions WHERE user_id = ? AND status = 'active'", [.text(userID)]
        ).first?.int("n") ?? 0
    }

    /// Moves the active sessions matching `condition` to `ending.status` and returns them as they now are.
    /// Only `active` rows change, so a session can never leave a final state.
    static func endActive(
        where condition: String, _ binds: [SQLiteData], _ ending: SessionEnding, at now: Date,
        on connection: SQLiteConnection
    ) async throws -> [WorkspaceSession] {
        try await connection.rows(endActive(where: condition), [.text(ending.status.rawValue), .init(now), .text(ending.reason)] + binds)
            .map(session)
    }

    /// The statement `endActive(where:…)` runs.
    static func endActive(where condition: String) -> String {
        """
        UPDATE sessions SET status = ?, ended_at = ?, end_reason = ?
        WHERE status = 'active' AND (\(condition))
        RETURNING *
        """
    }

    /// A stop's condition: the user's newest active session on the workspace.
    static let newestActiveCondition = "id = (\(newestActiveSession))"

    static func session(_ row: SQLiteRow) throws -> WorkspaceSession {
        guard let status = SessionStatus(rawValue: try row.string("status")) else {
            throw CorruptRow(column: "status")
        }
        return WorkspaceSession(
            id: try row.string("id"), userID: try row.string("user_id"), userEmail: try row.string("user_email"),
            workspaceID: try row.string("workspace_id"), workspaceName: try row.string("workspace_name"),
            status: status, startedAt: try row.date("started_at"), endedAt: row.optionalDate("ended_at"),
            expiresAt: row.optionalDate("expires_at"), lastSeenAt: try row.date("last_seen_at"),
            ipAddress: try row.string("ip_address"), mfaVerified: try row.bool("mfa_verified"),
            endReason: row.optionalString("end_reason"), recording: try row.bool("recording"))
    }
}
