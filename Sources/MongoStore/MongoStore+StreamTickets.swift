import Domain
import Foundation

extension MongoStore: StreamTicketStore {
    public func insert(_ ticket: StreamTicket, keeping: Int) async throws {
        precondition(keeping >= 1, "a session keeps at least the ticket just issued")
        try await database.insert(
            "stream_tickets",
            [
                "_id": .string(ticket.digest), "session_id": .string(ticket.sessionID), "user_id": .string(ticket.userID),
                "address": .string(ticket.address), "issued_at": .date(ticket.issuedAt), "expires_at": .date(ticket.expiresAt),
            ])
        // The others of the session, newest first, past the `keeping - 1` that stay beside the new
        // one (which is never among them, whatever the clocks of the replicas that issued them).
        let older = try await database.find(
            "stream_tickets", ["session_id": .string(ticket.sessionID), "_id": .document(["$ne": .string(ticket.digest)])],
            sort: ["issued_at": .int(-1), "_id": .int(1)], skip: keeping - 1, projection: ["_id": .int(1)])
        if !older.isEmpty {
            _ = try await database.delete(
                "stream_tickets", ["_id": .document(["$in": .array(try older.map { .string(try $0.string("_id")) })])], many: true)
        }
    }

    public func takeStreamTicket(digest: String) async throws -> StreamTicket? {
        try await database.findAndRemove("stream_tickets", ["_id": .string(digest)]).map { document in
            StreamTicket(
                digest: try document.string("_id"), sessionID: try document.string("session_id"),
                userID: try document.string("user_id"), address: try document.string("address"),
                issuedAt: try document.date("issued_at"), expiresAt: try document.date("expires_at"))
        }
    }
}
