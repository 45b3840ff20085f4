/// How NeoSC signs people in through an OpenID Connect provider (Zitadel, or any other).
public struct OIDCSettings: Sendable {
    /// The issuer (`ZITADEL_AUTHORITY`); discovery is read from its `/.well-known/openid-configuration`.
    public var issuer: String
    public var clientID: String
    /// Absent for public clients (PKCE only).
    public var clientSecret: String?
    /// Zitadel project whose `urn:zitadel:iam:org:project:<id>:roles` claim also grants roles.
    public var projectID: String?
    /// `redirect_uri` values a token exchange may name; empty means any the provider accepts.
    public var allowedRedirectURIs: [String]
    /// This server's browser callback (`.../api/auth/oidc/callback`); nil disables the browser flow.
    public var callbackURL: String?
    /// Where the browser flow lands, with the NeoSC session in the URL fragment.
    public var portalURL: String?

    public init(
        issuer: String, clientID: String, clientSecret: String? = nil, projectID: String? = nil,
        allowedRedirectURIs: [String] = [], callbackURL: String? = nil, portalURL: String? = nil
    ) {
        self.issuer = issuer
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.projectID = projectID
        self.allowedRedirectURIs = allowedRedirectURIs
        self.callbackURL = callbackURL
        self.portalURL = portalURL
    }

    /// The issuer without a trailing slash, as discovery URLs are built from it.
    var issuerBase: String { issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer }

    /// The scopes NeoSC asks for: the profile, and Zitadel's project roles.
    var scopes: String {
        var scopes = ["openid", "profile", "email", "urn:zitadel:iam:org:projects:roles"]
        if let projectID { scopes.append("urn:zitadel:iam:org:project:id:\(projectID):aud") }
        return scopes.joined(separator: " ")
    }
}
