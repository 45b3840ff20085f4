import Foundation

/// An account's authenticator (TOTP, RFC 6238): pending from enrolment until a first right code
/// confirms it; only a confirmed one is asked for at sign-in and counts as `mfa_enabled`.
public struct TOTPEnrollment: Sendable, Equatable {
    public var userID: String
    /// The shared key as the TOTP computation takes it (the authenticator receives its UTF-8
    /// bytes in base32). Stored as it is: a code cannot be checked without it.
    public var secret: String
    /// SHA-256 digests (lower-case hex) of the recovery codes not used yet; the codes themselves
    /// are shown once, at enrolment, and never stored.
    public var recoveryCodeDigests: [String]
    public var createdAt: Date
    public var confirmedAt: Date?

    public var isConfirmed: Bool { confirmedAt != nil }

    public init(userID: String, secret: String, recoveryCodeDigests: [String], createdAt: Date, confirmedAt: Date? = nil) {
        self.userID = userID
        self.secret = secret
        self.recoveryCodeDigests = recoveryCodeDigests
        self.createdAt = createdAt
        self.confirmedAt = confirmedAt
    }
}
