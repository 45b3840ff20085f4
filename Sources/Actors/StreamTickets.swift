import Foundation

/// The stream tickets handed out and not yet used: each opens one stream, once, for one session,
/// from the client address it was issued to, within a few seconds. Bounded: past `capacity`
/// outstanding tickets, expired ones are swept, and if none has expired a new one is refused.
public actor StreamTickets {
    /// What a ticket was issued for.
    public struct Grant: Sendable, Equatable {
        public let sessionID: String
        public let userID: String
        public let address: String
        public let expiresAt: Date

        public init(sessionID: String, userID: String, address: String, expiresAt: Date) {
            self.sessionID = sessionID
            self.userID = userID
            self.address = address
            self.expiresAt = expiresAt
        }
    }

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

    private var outstanding: [String: Grant] = [:]
    private let capacity: Int

    public init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// The most tickets one session may have outstanding: a new one beyond it replaces the oldest,
    /// so no one account can fill the pool everyone shares.
    public static let maximumPerSession = 8

    /// Keeps `ticket` for `grant`; false when `capacity` tickets are outstanding and unexpired at `now`.
    public func issue(_ ticket: String, for grant: Grant, at now: Date) -> Bool {
        let mine = outstanding.filter { $0.value.sessionID == grant.sessionID }
        if mine.count >= Self.maximumPerSession, let oldest = mine.min(by: { $0.value.expiresAt < $1.value.expiresAt }) {
            outstanding.removeValue(forKey: oldest.key)
        }
        if outstanding.count >= capacity {
            outstanding = outstanding.filter { $0.value.expiresAt > now }
            guard outstanding.count < capacity else { return false }
        }
        outstanding[ticket] = grant
        return true
    }

    /// Uses `ticket` up, whatever the answer: a ticket presented once is gone, so a replay, or a
    /// second try from another address, finds nothing.
    public func redeem(_ ticket: String, sessionID: String, address: String, at now: Date) -> Result<Grant, Refusal> {
        guard let grant = outstanding.removeValue(forKey: ticket) else { return .failure(.unknown) }
        guard grant.expiresAt > now else { return .failure(.expired) }
        guard grant.sessionID == sessionID else { return .failure(.otherSession) }
        guard grant.address == address else { return .failure(.otherAddress) }
        return .success(grant)
    }

    public var count: Int { outstanding.count }
}
