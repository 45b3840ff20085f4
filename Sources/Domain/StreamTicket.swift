import Foundation

/// A stream ticket between its issue and its use (issue #17): what it opens, once, for whom,
/// from where, until when. Kept in the store, so a ticket one replica issued opens a stream on
/// another; only its digest is kept, so a copy of the store opens nothing.
public struct StreamTicket: Sendable, Equatable {
    /// Lower-case hex SHA-256 of the ticket handed out.
    public var digest: String
    public var sessionID: String
    /// The session's owner, to whom it was issued.
    public var userID: String
    /// The client address it was issued to, and must be presented from.
    public var address: String
    public var issuedAt: Date
    public var expiresAt: Date

    public init(digest: String, sessionID: String, userID: String, address: String, issuedAt: Date, expiresAt: Date) {
        self.digest = digest
        self.sessionID = sessionID
        self.userID = userID
        self.address = address
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }

    /// The most tickets one session may have outstanding: a new one beyond it replaces the
    /// oldest, so no one account can fill the store with tickets.
    public static let maximumPerSession = 8

    /// Why a ticket did not open a stream.
    public enum Refusal: String, Error, Sendable {
        /// Never issued, already used, or swept.
        case unknown = "ticket_unknown"
        case expired = "ticket_expired"
        /// Issued for another session.
        case otherSession = "ticket_for_another_session"
        /// Presented from another client address than it was issued to.
        case otherAddress = "ticket_from_another_address"
    }

    /// Whether `ticket` (already taken from the store: used up, whatever the answer), presented
    /// for session `sessionID` from `address` at `now`, opens its stream; the refusal if not.
    public static func judge(
        _ ticket: StreamTicket?, presentedFor sessionID: String, from address: String, at now: Date
    ) -> Result<StreamTicket, Refusal> {
        guard let ticket else { return .failure(.unknown) }
        guard now < ticket.expiresAt else { return .failure(.expired) }
        guard ticket.sessionID == sessionID else { return .failure(.otherSession) }
        guard ticket.address == address else { return .failure(.otherAddress) }
        return .success(ticket)
    }
}
