import Foundation

/// What an identity provider vouched for, once its signed token has been verified: the account
/// it names and the roles it grants. Nothing in here comes from the client.
public struct ExternalIdentity: Sendable, Equatable {
    /// Which provider vouched: the OIDC issuer, or `pomerium`. With `subject`, the account's key.
    public var provider: String
    public var subject: String
    /// Normalised e-mail address, when the provider sent one.
    public var email: String?
    /// True only when the provider asserts it verified the address (`email_verified`).
    public var emailVerified: Bool
    /// True only when the provider says it has not verified the address (`email_verified` false,
    /// null, 0, or "false", "0", "no" or empty); false when it says nothing either way (a provider
    /// without the claim) or something NeoSC cannot read as no.
    public var emailUnverified: Bool
    public var name: String?
    /// Every NeoSC role the provider granted; the account gets the highest.
    public var roles: Set<Role>
    /// True when the provider reports a second factor (`amr` contains `mfa`, `otp`, `hwk`, ...).
    public var mfaVerified: Bool
    /// When the provider's token stops being valid.
    public var expiresAt: Date
    /// Present when the token binds the caller to one demo session.
    public var demo: DemoBinding?
    /// The provider's sign-in session (Pomerium's `sid`): every request of one sign-in carries it,
    /// so its first sight is the sign-in.
    public var session: String?
    /// The names of the claims the verified token carried with a value.
    public var claims: Set<String>
    /// Other spellings of `provider` an account may have been linked under before it was kept in
    /// one spelling (an OIDC issuer with its trailing slash, which its tokens may carry or not).
    /// Such an account is this provider's, and is moved to `provider` at its next sign-in.
    public var formerProviderSpellings: [String]

    public init(
        provider: String, subject: String, email: String?, emailVerified: Bool, name: String?, roles: Set<Role>,
        mfaVerified: Bool, expiresAt: Date, demo: DemoBinding? = nil, session: String? = nil, claims: Set<String> = [],
        formerProviderSpellings: [String] = [], emailUnverified: Bool = false
    ) {
        self.emailUnverified = emailUnverified && !emailVerified
        self.claims = claims
        self.formerProviderSpellings = formerProviderSpellings
        self.provider = provider
        self.subject = subject
        self.email = email
        self.emailVerified = emailVerified
        self.name = name
        self.roles = roles
        self.mfaVerified = mfaVerified
        self.expiresAt = expiresAt
        self.demo = demo
        self.session = session
    }

    /// The role the account acts with: the most privileged one granted, or nil when none is NeoSC's.
    public var role: Role? { roles.max() }
}

/// The `neosc:demo_*` claims: a token that carries them is good for one demo session and only
/// until `expiresAt`, however long the token itself would live.
public struct DemoBinding: Sendable, Equatable {
    public var sessionID: String
    public var expiresAt: Date
    public var workspaceType: String?
    /// The longest the demo may ever be extended to, in seconds.
    public var maxDuration: TimeInterval?

    public init(sessionID: String, expiresAt: Date, workspaceType: String?, maxDuration: TimeInterval?) {
        self.sessionID = sessionID
        self.expiresAt = expiresAt
        self.workspaceType = workspaceType
        self.maxDuration = maxDuration
    }
}
