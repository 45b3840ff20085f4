import Foundation

/// Who a request acts for, whatever proved it: a NeoSC bearer token, a verified OIDC ID token, or a
/// verified Pomerium assertion.
public struct Principal: Sendable, Equatable {
    public var userID: String
    public var email: String
    public var name: String
    public var role: Role
    public var organizationID: String?
    /// True only when this sign-in really passed a second factor.
    public var mfaVerified: Bool
    /// SHA-256 digest of the bearer credential that authenticated the request, so logout can revoke it.
    public var credentialDigest: String
    /// When the credential stops being valid on its own.
    public var credentialExpiresAt: Date
    /// The names of the claims a provider's token carried with a value: the token the request
    /// carries (Pomerium's assertion, an ID token), or the one a NeoSC bearer token was issued
    /// for at a sign-in through the provider (`AccessToken.claims`); empty otherwise.
    public var claims: Set<String>

    public init(
        userID: String, email: String, name: String, role: Role, organizationID: String?,
        mfaVerified: Bool, credentialDigest: String, credentialExpiresAt: Date, claims: Set<String> = []
    ) {
        self.claims = claims
        self.userID = userID
        self.email = email
        self.name = name
        self.role = role
        self.organizationID = organizationID
        self.mfaVerified = mfaVerified
        self.credentialDigest = credentialDigest
        self.credentialExpiresAt = credentialExpiresAt
    }

    public var isAdmin: Bool { role == .admin }
}
