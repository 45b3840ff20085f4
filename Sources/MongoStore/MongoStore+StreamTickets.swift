import Domain
import Foundation

extension MongoStore: StreamTicketStore {
    public func insert(_ ticket: StreamTicket, keeping: Int) async throws {
        try await database.insert(
            "stream_tickets",
            [
                "_id": .string(ticket.digest), "session_id": .string(ticket.sessionID), "user_id": .string(ticket.userID),
                "address": .string(ticket.address), "issued_at": .date(ticket.issuedAt), "expires_at": .date(ticket.expiresAt),
            ])
        let older = try await database.find(
            "stream_tickets", ["session_id": .string(ticket.sessionID)], sort: ["issued_at": .int(-1), "_id": .int(1)],
            skip: keeping, projection: ["_id": .int(1)])
        if !older.isEmpty {
            _ = try await database.delete(
                "stream_tickets", ["_id": .document(["$in": .array(try older.map { .string(try $0.string("_id")) })])], many: true)
        }
    }

    /// Read, then removed by its `_id`: the one take whose removal removed it gets it (a ticket
    /// never changes, so what was read is what was removed).
    public func takeStreamTicket(digest: String) async throws -> StreamTicket? {
        guard let document = try await database.findOne("stream_tickets", ["_id": .string(digest)]),
            try await database.delete("stream_tickets", ["_id": .string(digest)]) == 1
        else { return nil }
        return StreamTicket(
            digest: try document.string("_id"), sessionID: try document.string("session_id"), userID: try document.string("user_id"),
            address: try document.string("address"), issuedAt: try document.date("issued_at"),
            expiresAt: try document.date("expires_at"))
    }
}
