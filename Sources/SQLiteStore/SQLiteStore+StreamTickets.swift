import Domain
import Foundation
import SQLiteNIO

extension SQLiteStore: StreamTicketStore {
    public func insert(_ ticket: StreamTicket, keeping: Int) async throws {
        precondition(keeping >= 1, "a session keeps at least the ticket just issued")
        try await write { connection in
            try await connection.execute(
                """
                INSERT INTO stream_tickets (digest, session_id, user_id, address, issued_at, expires_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(ticket.digest), .text(ticket.sessionID), .text(ticket.userID), .text(ticket.address),
                    .init(ticket.issuedAt), .init(ticket.expiresAt),
                ])
            try await connection.execute(
                """
                DELETE FROM stream_tickets WHERE session_id = ?1 AND digest <> ?2 AND digest NOT IN (
                    SELECT digest FROM stream_tickets WHERE session_id = ?1 AND digest <> ?2
                    ORDER BY issued_at DESC, digest\(limitClause(keeping - 1))
                )
                """,
                [.text(ticket.sessionID), .text(ticket.digest)])
            // Those never presented go once expired (MongoDB's TTL index does this there).
            try await connection.execute("DELETE FROM stream_tickets WHERE expires_at <= ?", [.init(ticket.issuedAt)])
        }
    }

    /// A ticket that is not there costs a read, not the writer's turn: a flood of made-up tickets
    /// does not queue behind (or in front of) the changes.
    public func takeStreamTicket(digest: String) async throws -> StreamTicket? {
        let known = try await read { connection in
            try await !connection.rows("SELECT 1 FROM stream_tickets WHERE digest = ?", [.text(digest)]).isEmpty
        }
        guard known else { return nil }
        return try await write { connection in
            try await connection.rows("DELETE FROM stream_tickets WHERE digest = ? RETURNING *", [.text(digest)]).first.map { row in
                StreamTicket(
                    digest: try row.string("digest"), sessionID: try row.string("session_id"), userID: try row.string("user_id"),
                    address: try row.string("address"), issuedAt: try row.date("issued_at"), expiresAt: try row.date("expires_at"))
            }
        }
    }
}
