import Domain
import Foundation
import SQLiteNIO

extension SQLiteStore: AuditStore {
    public func append(_ event: AuditEvent) async throws {
        try await write { connection in
            try await connection.execute(
                """
                INSERT INTO audit_logs (id, timestamp, user_id, user_email, action, resource_type, resource_id,
                    details, ip_address, success)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(event.id), .init(event.timestamp), .init(event.userID), .init(event.userEmail),
                    .text(event.action.rawValue), .init(event.resourceType), .init(event.resourceID),
                    try .json(event.details), .init(event.ipAddress), .init(event.success),
                ])
        }
    }

    public func events(_ query: AuditQuery) async throws -> [AuditEvent] {
        try await read { connection in
            // The page starts after the cursor entry in (timestamp, seq) order, or at the top. A
            // plain `timestamp <= ?` lets SQLite seek the timestamp index to it: each page costs
            // its own rows, not a scan of every newer entry (an export of 1,000,000 was quadratic).
            var cursor: (timestamp: SQLiteData, seq: SQLiteData) = (.float(.greatestFiniteMagnitude), .integer(.max))
            if let before = query.before {
                guard
                    let row = try await connection.rows(
                        "SELECT timestamp, seq FROM audit_logs WHERE id = ?", [.text(before)]
                    ).first,
                    let timestamp = row.column("timestamp"), let seq = row.column("seq")
                else { return [] }
                cursor = (timestamp, seq)
            }
            return try await connection.rows(
                """
                SELECT * FROM audit_logs
                WHERE (?1 IS NULL OR action = ?1) AND (?2 IS NULL OR user_id = ?2) AND (?3 IS NULL OR success = ?3)
                    AND (?4 IS NULL OR timestamp >= ?4) AND (?5 IS NULL OR timestamp <= ?5)
                    AND timestamp <= ?7 AND (timestamp < ?7 OR seq < ?8)
                ORDER BY timestamp DESC, seq DESC LIMIT ?6
                """,
                [
                    .init(query.action?.rawValue), .init(query.userID), query.success.map { .init($0) } ?? .null,
                    .init(query.since), .init(query.until), .init(query.limit), cursor.timestamp, cursor.seq,
                ]
            ).map { row in
                AuditEvent(
                    id: try row.string("id"), timestamp: try row.date("timestamp"),
                    userID: row.optionalString("user_id"), userEmail: row.optionalString("user_email"),
                    action: AuditAction(try row.string("action")), resourceType: row.optionalString("resource_type"),
                    resourceID: row.optionalString("resource_id"),
                    details: try row.stringMap(json: "details"),
                    ipAddress: row.optionalString("ip_address"), success: try row.bool("success"))
            }
        }
    }

    public func count(action: AuditAction, since: Date, scope: AuditScope) async throws -> Int {
        try await read { connection in
            let binds: [SQLiteData] = [.text(action.rawValue), .init(since)]
            let rows: [SQLiteRow]
            switch scope {
            case .everyone:
                rows = try await connection.rows(
                    "SELECT COUNT(*) AS n FROM audit_logs WHERE action = ? AND timestamp >= ?", binds)
            case .user(let userID):
                rows = try await connection.rows(
                    "SELECT COUNT(*) AS n FROM audit_logs WHERE action = ? AND timestamp >= ? AND user_id = ?",
                    binds + [.text(userID)])
            case .organization(let organizationID):
                rows = try await connection.rows(
                    """
                    SELECT COUNT(*) AS n FROM audit_logs JOIN users ON users.id = audit_logs.user_id
                    WHERE audit_logs.action = ? AND audit_logs.timestamp >= ? AND users.organization_id = ?
                    """, binds + [.text(organizationID)])
            }
            return try rows.first?.int("n") ?? 0
        }
    }
}
