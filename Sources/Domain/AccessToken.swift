import Foundation

/// A bearer token as stored: only its SHA-256 digest, never the token itself.
public struct AccessToken: Sendable, Equatable {
    /// Lower-case hex SHA-256 of the token the client holds.
    public var digest: String
    public var userID: String
    public var issuedAt: Date
    public var expiresAt: Date
    public var revokedAt: Date?
    public var mfaVerified: Bool

    public init(
        digest: String, userID: String, issuedAt: Date, expiresAt: Date, revokedAt: Date? = nil,
        mfaVerified: Bool
    ) {
        self.digest = digest
        self.userID = userID
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.mfaVerified = mfaVerified
    }

    public func isValid(at now: Date) -> Bool {
        revokedAt == nil && now < expiresAt
    }
}
