import Actors
import Crypto
import Domain
import Foundation
import Services

/// The one OpenID provider NeoSC trusts: its discovery document and keys (cached), the code
/// exchange at its token endpoint, and ID-token verification. The issuer comes from
/// configuration only; nothing a caller sends can point NeoSC at another one.
public struct OIDCProvider: Sendable {
    struct Discovery: Sendable, Decodable {
        var issuer: String
        var authorizationEndpoint: String
        var tokenEndpoint: String
        var jwksURI: String

        enum CodingKeys: String, CodingKey {
            case issuer
            case authorizationEndpoint = "authorization_endpoint"
            case tokenEndpoint = "token_endpoint"
            case jwksURI = "jwks_uri"
        }
    }

    public let settings: OIDCSettings
    private let discovery: RemoteResourceCache<Discovery>
    private let verifier: SignedTokenVerifier
    private let http: OutboundHTTP
    private let nonces: any NonceStore
    private let clock: WallClock
    private let rules: ClaimRules

    /// `nonces` keeps redeemed nonces: the store, so a restart or another replica cannot accept a
    /// token twice.
    public init(
        settings: OIDCSettings, http: OutboundHTTP, nonces: any NonceStore, clock: WallClock, keySetMaxAge: TimeInterval = 300,
        keyRefreshInterval: TimeInterval = 30
    ) {
        self.settings = settings
        self.http = http
        self.nonces = nonces
        self.clock = clock
        let discovery = RemoteResourceCache<Discovery>(maxAge: 3_600, minimumRefreshInterval: keyRefreshInterval, clock: clock) {
            try await Self.fetchDiscovery(settings: settings, http: http)
        }
        self.discovery = discovery
        let keys = VerificationKeys.cache(
            owner: "The identity provider", http: http, clock: clock, maxAge: keySetMaxAge,
            refreshInterval: keyRefreshInterval
        ) { try await discovery.current().jwksURI }
        let issuer = settings.issuerBase
        let rules = ClaimRules(issuers: [issuer, issuer + "/"], audiences: [settings.clientID])
        self.rules = rules
        self.verifier = SignedTokenVerifier(keys: keys, rules: rules, clock: clock)
    }

    private static func fetchDiscovery(settings: OIDCSettings, http: OutboundHTTP) async throws -> Discovery {
        let reply = try await http.get(settings.issuerBase + "/.well-known/openid-configuration")
        guard reply.status == 200, let document = try? JSONDecoder().decode(Discovery.self, from: reply.body) else {
            throw DomainError.unavailable("The identity provider's discovery document is unavailable")
        }
        // OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
        let named = document.issuer.hasSuffix("/") ? String(document.issuer.dropLast()) : document.issuer
        guard named == settings.issuerBase,
            [document.authorizationEndpoint, document.tokenEndpoint, document.jwksURI].allSatisfy(SecureURL.isAcceptable)
        else {
            throw DomainError.unavailable("The identity provider's discovery document names another issuer or insecure endpoints")
        }
        return document
    }

    /// The URL that starts a browser sign-in (authorization code with PKCE S256).
    package func authorizationURL(state: String, nonce: String, codeChallenge: String, redirectURI: String) async throws -> String {
        let endpoint = try await discovery.current().authorizationEndpoint
        let query = FormEncoding.encode([
            ("response_type", "code"), ("client_id", settings.clientID), ("redirect_uri", redirectURI),
            ("scope", settings.scopes), ("state", state), ("nonce", nonce), ("code_challenge", codeChallenge),
            ("code_challenge_method", "S256"),
        ])
        return endpoint + (endpoint.contains("?") ? "&" : "?") + query
    }

    /// Redeems an authorization code at the provider's token endpoint; returns its ID token.
    package func exchange(code: String, codeVerifier: String, redirectURI: String) async throws -> String {
        var fields = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI),
            ("code_verifier", codeVerifier),
        ]
        let basicAuth = settings.clientSecret.map { (user: settings.clientID, password: $0) }
        if basicAuth == nil { fields.append(("client_id", settings.clientID)) }
        let reply = try await http.postForm(try await discovery.current().tokenEndpoint, fields: fields, basicAuth: basicAuth)
        struct TokenResponse: Decodable { var id_token: String? }
        guard reply.status == 200 else {
            if (500...599).contains(reply.status) { throw DomainError.unavailable("The identity provider failed the code exchange") }
            throw SignInFailure.codeRejected
        }
        guard let idToken = try? JSONDecoder().decode(TokenResponse.self, from: reply.body).id_token else {
            throw SignInFailure.noIDToken
        }
        return idToken
    }

    /// Verifies an ID token (signature, `iss`, `aud`, `exp`, `iat`, and `nonce` when one is
    /// expected) and redeems its nonce, so the same token never signs in twice.
    package func identity(fromIDToken idToken: String, expectedNonce: String?, requireNonce: Bool) async throws -> ExternalIdentity {
        let claims = try await verifier.verify(idToken, expectedNonce: expectedNonce)
        if let nonce = claims.registered.nonce {
            // Kept as long as the verifier could still accept the token: its expiry plus the
            // clock-skew leeway (a record that ended at `exp` let a token in its leeway back in).
            let acceptedUntil = (claims.registered.expiresAt ?? clock.now()).addingTimeInterval(rules.leeway)
            let digest = Hex.encode(SHA256.hash(data: Array((settings.issuerBase + "\n" + nonce).utf8)))
            guard try await nonces.redeem(nonce: digest, until: acceptedUntil, at: clock.now()) else {
                throw TokenRejection.replayedNonce
            }
        } else if requireNonce {
            throw TokenRejection.missingNonce
        }
        let registered = claims.registered
        // The issuer as configured, whether the token spelt it with a trailing slash or not (the
        // rules accept both): one person is one account. Accounts linked under the token's own
        // spelling before are found under it, and moved.
        return ExternalIdentity(
            provider: settings.issuerBase, subject: registered.subject ?? "",
            email: Validation.providerEmail(claims.email),
            emailVerified: claims.emailVerified, name: claims.name,
            roles: ProviderRoles.roles(named: claims.zitadelRoles(projectID: settings.projectID)),
            mfaVerified: claims.mfaVerified, expiresAt: registered.expiresAt ?? .distantPast, demo: claims.demo,
            claims: claims.presentClaims, formerProviderSpellings: [settings.issuerBase + "/"],
            emailUnverified: claims.emailUnverified)
    }

    /// Fetches discovery and keys now, so a misconfigured provider shows at start-up.
    public func warmUp() async throws {
        _ = try await discovery.current()
        _ = try await verifier.keys.current()
    }
}
