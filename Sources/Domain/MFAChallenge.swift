import Foundation

/// What a right password buys an account with a second factor: a short-lived, single-use right
/// to present a code, and nothing else. Only the digest of its token is stored.
public struct MFAChallenge: Sendable, Equatable {
    public var digest: String
    public var userID: String
    public var issuedAt: Date
    public var expiresAt: Date

    public init(digest: String, userID: String, issuedAt: Date, expiresAt: Date) {
        self.digest = digest
        self.userID = userID
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }

    public func isValid(at now: Date) -> Bool { now < expiresAt }
}
