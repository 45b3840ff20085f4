/// How NeoSC checks the identity Pomerium forwards (`NEOSC_AUTH_MODE=pomerium`).
public struct PomeriumSettings: Sendable {
    /// Pomerium's signing keys (`POMERIUM_JWKS_URL`).
    public var jwksURL: String
    /// The route hosts whose assertions NeoSC accepts as `aud` (`POMERIUM_AUDIENCE`).
    public var audiences: [String]
    /// Accepted `iss` values (`POMERIUM_ISSUER`, default: the audiences).
    public var issuers: [String]
    /// Also accept the unsigned `X-Pomerium-Email/User/Groups` headers, from trusted proxies only.
    public var trustIdentityHeaders: Bool
    /// Zitadel project whose role claim Pomerium may forward.
    public var projectID: String?
    /// Where a browser ends its Pomerium session (`POMERIUM_SIGNOUT_URL`, default
    /// `<POMERIUM_AUTHENTICATE_URL>/.pomerium/sign_out`): NeoSC's logout answers it.
    public var signOutURL: String?

    public init(
        jwksURL: String, audiences: [String], issuers: [String] = [], trustIdentityHeaders: Bool = false,
        projectID: String? = nil, signOutURL: String? = nil
    ) {
        self.jwksURL = jwksURL
        self.audiences = audiences
        self.issuers = issuers.isEmpty ? audiences : issuers
        self.trustIdentityHeaders = trustIdentityHeaders
        self.projectID = projectID
        self.signOutURL = signOutURL
    }

    /// Pomerium writes `aud` and `iss` as the bare route host, or as `https://HOST/` with
    /// `jwt_issuer_format: uri`; a configured host accepts both spellings.
    static func spellings(of hosts: [String]) -> Set<String> {
        Set(
            hosts.flatMap { host -> [String] in
                host.contains("://") ? [host] : [host, "https://\(host)/", "https://\(host)"]
            })
    }
}
