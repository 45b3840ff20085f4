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
    /// The names of the claims the identity provider's token carried with a value, when the
    /// token was issued for a sign-in through the provider: what the sign-in proved (a NetBird
    /// peer's claim, say) holds for the token, as it would for the provider's own. At most
    /// `claimLimit`; empty for every other sign-in.
    public var claims: Set<String>

    public static let claimLimit = 100

    public init(
        digest: String, userID: String, issuedAt: Date, expiresAt: Date, revokedAt: Date? = nil,
        mfaVerified: Bool, claims: Set<String> = []
    ) {
        self.digest = digest
        self.userID = userID
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.mfaVerified = mfaVerified
        self.claims = Set(claims.sorted().prefix(Self.claimLimit))
    }

    public func isValid(at now: Date) -> Bool {
        revokedAt == nil && now < expiresAt
    }
}
