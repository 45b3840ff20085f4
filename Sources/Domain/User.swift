import Foundation

/// An account. `passwordHash` never leaves the service: routes encode a view without it.
public struct User: Sendable, Equatable {
    public var id: String
    /// Normalised (trimmed, lower-cased); unique.
    public var email: String
    public var name: String
    public var organizationID: String?
    public var role: Role
    /// bcrypt hash; nil for accounts that can only sign in through an identity provider.
    public var passwordHash: String?
    /// Whether the account has a way to pass MFA: a confirmed second factor here, or, for an
    /// account that signs in only through its identity provider, that provider's own (an
    /// `mfa_required` refusal then says `verify_mfa`, never `enroll_mfa`, which it cannot do).
    public var canVerifySecondFactor: Bool { mfaEnabled || passwordHash == nil }
    public var mfaEnabled: Bool
    /// The identity provider (OIDC issuer, or `pomerium`) this account signs in through, if any.
    public var ssoProvider: String?
    /// The provider's stable subject for this account; unique together with `ssoProvider`.
    public var ssoSubject: String?
    public var disabled: Bool
    /// Set by an administrator's password reset: the account must choose a new password before
    /// it can sign in with one (`SignIn.changePassword`).
    public var mustChangePassword: Bool
    /// Made by someone who registered it (`POST /api/auth/register`), whom nothing showed to own
    /// its address: an identity provider that later proves the address takes it over, and what
    /// the registrant set on it (a password, a second factor) goes (`AccountLinking`). Set when
    /// the account is made, never changed.
    public var selfRegistered: Bool
    /// Provisioned for a provider identity whose provider said it had not verified its address
    /// (`ExternalIdentity.emailUnverified`; a provider may let people sign up without confirming it): the
    /// first identity whose provider verifies the address takes the account over, as it takes a
    /// registered one (`AccountLinking`). Cleared when a provider that verified the address signs
    /// in to it.
    public var addressUnverified: Bool
    /// The NetBird peer the account registered, checked with NetBird when it did
    /// (`network_required` policies accept it as proof of a peer).
    public var netbirdPeerID: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, email: String, name: String, organizationID: String?, role: Role,
        passwordHash: String?, mfaEnabled: Bool = false, ssoProvider: String? = nil, ssoSubject: String? = nil,
        disabled: Bool = false, mustChangePassword: Bool = false, selfRegistered: Bool = false, addressUnverified: Bool = false,
        netbirdPeerID: String? = nil,
        createdAt: Date, updatedAt: Date
    ) {
        self.netbirdPeerID = netbirdPeerID
        self.id = id
        self.email = email
        self.name = name
        self.organizationID = organizationID
        self.role = role
        self.passwordHash = passwordHash
        self.mfaEnabled = mfaEnabled
        self.ssoProvider = ssoProvider
        self.ssoSubject = ssoSubject
        self.disabled = disabled
        self.mustChangePassword = mustChangePassword
        self.selfRegistered = selfRegistered
        self.addressUnverified = addressUnverified
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

extension User {
    /// The fields a change may write (the password is `setPassword`'s alone).
    public enum Field: Sendable, CaseIterable {
        case email, name, organizationID, role, mfaEnabled, disabled, ssoProvider, ssoSubject, addressUnverified
    }

    /// The fields in which this differs from `before`.
    public func fields(changedFrom before: User) -> Set<Field> {
        var changed: Set<Field> = []
        if email != before.email { changed.insert(.email) }
        if name != before.name { changed.insert(.name) }
        if organizationID != before.organizationID { changed.insert(.organizationID) }
        if role != before.role { changed.insert(.role) }
        if mfaEnabled != before.mfaEnabled { changed.insert(.mfaEnabled) }
        if disabled != before.disabled { changed.insert(.disabled) }
        if ssoProvider != before.ssoProvider { changed.insert(.ssoProvider) }
        if ssoSubject != before.ssoSubject { changed.insert(.ssoSubject) }
        if addressUnverified != before.addressUnverified { changed.insert(.addressUnverified) }
        return changed
    }
}
