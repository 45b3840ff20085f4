import Foundation

/// The registered claims of a signed token whose signature has been checked, as plain values.
public struct SignedClaims: Sendable, Equatable {
    public var issuer: String?
    public var subject: String?
    public var audiences: [String]
    public var expiresAt: Date?
    public var issuedAt: Date?
    public var notBefore: Date?
    public var nonce: String?

    public init(
        issuer: String?, subject: String?, audiences: [String], expiresAt: Date?, issuedAt: Date?,
        notBefore: Date?, nonce: String?
    ) {
        self.issuer = issuer
        self.subject = subject
        self.audiences = audiences
        self.expiresAt = expiresAt
        self.issuedAt = issuedAt
        self.notBefore = notBefore
        self.nonce = nonce
    }
}

/// What a verified token's claims must satisfy before anyone believes them.
public struct ClaimRules: Sendable {
    /// Accepted `iss` values, compared exactly.
    public var issuers: Set<String>
    /// At least one `aud` entry must be among these.
    public var audiences: Set<String>
    /// Clock skew tolerated on `exp`, `iat` and `nbf`, in seconds.
    public var leeway: TimeInterval
    /// The longest lifetime accepted — `exp` - `iat`, or `exp` - now for a token without `iat` —
    /// so a leaked key cannot mint eternal tokens.
    public var maxLifetime: TimeInterval

    public init(issuers: Set<String>, audiences: Set<String>, leeway: TimeInterval = 60, maxLifetime: TimeInterval = 86_400) {
        self.issuers = issuers
        self.audiences = audiences
        self.leeway = leeway
        self.maxLifetime = maxLifetime
    }

    /// Checks `claims` at `now`; `expectedNonce`, when given, must equal the token's nonce.
    public func check(_ claims: SignedClaims, at now: Date, expectedNonce: String? = nil) throws(TokenRejection) {
        guard let issuer = claims.issuer, issuers.contains(issuer) else { throw .wrongIssuer }
        guard claims.audiences.contains(where: audiences.contains) else { throw .wrongAudience }
        guard let expiresAt = claims.expiresAt else { throw .missingExpiry }
        guard now.timeIntervalSince(expiresAt) < leeway else { throw .expired }
        if let notBefore = claims.notBefore, notBefore.timeIntervalSince(now) > leeway { throw .notYetValid }
        if let issuedAt = claims.issuedAt {
            guard issuedAt.timeIntervalSince(now) <= leeway else { throw .notYetValid }
            guard expiresAt.timeIntervalSince(issuedAt) <= maxLifetime else { throw .lifetimeTooLong }
        } else {
            // No `iat` to measure from: what is left of it may not exceed the maximum either.
            guard expiresAt.timeIntervalSince(now) <= maxLifetime else { throw .lifetimeTooLong }
        }
        guard let subject = claims.subject, !subject.isEmpty else { throw .missingSubject }
        if let expectedNonce {
            guard let nonce = claims.nonce else { throw .missingNonce }
            guard ConstantTime.equal(nonce, expectedNonce) else { throw .nonceMismatch }
        }
    }
}
