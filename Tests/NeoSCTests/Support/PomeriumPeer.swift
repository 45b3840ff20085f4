import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Services

/// Pomerium v0.31.3 where it matters to NeoSC: it signs in at an OpenID provider as Pomerium's
/// authenticate service does, keeps the claims the way Pomerium keeps them, and mints the
/// `X-Pomerium-Jwt-Assertion` Pomerium's authorize service would send with a request to a route
/// of `infra/pomerium/config.yaml`. Every rule below cites the Pomerium source it follows
/// (github.com/pomerium/pomerium at tag v0.31.3). It signs (ES256) and serves its key set at
/// `/.well-known/pomerium/jwks.json` through a `TestSigner`.
struct PomeriumPeer: Sendable {
    let signer: TestSigner
    /// The claim names under `jwt_claims_headers` in the shipped configuration.
    let forwardedClaims: [String]
    /// `jwt_issuer_format: uri` in the shipped configuration.
    let issuerIsURI: Bool
    /// `idp_scopes` in the shipped configuration, or Pomerium's default for a generic OIDC provider
    /// (`pkg/identity/oidc/oidc.go:31,69-70`).
    let scopes: [String]

    /// The peer configured as `infra/pomerium/config.yaml` configures Pomerium.
    init(signer: TestSigner, configuration: ShippedConfiguration = try! .read()) {
        self.signer = signer
        forwardedClaims = configuration.claimHeaders.map(\.claim)
        issuerIsURI = configuration.issuerFormat == "uri"
        scopes = configuration.scopes ?? ["openid", "profile", "email", "offline_access"]
    }

    // MARK: - The claims Pomerium keeps

    /// A JSON value as Pomerium's `structpb.Value` holds it.
    enum Value: Decodable, Sendable, Equatable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case null
        case list([Value])
        case object([String: Value])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let flag = try? container.decode(Bool.self) {
                self = .bool(flag)
            } else if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else if let text = try? container.decode(String.self) {
                self = .string(text)
            } else if let list = try? container.decode([Value].self) {
                self = .list(list)
            } else {
                self = .object(try container.decode([String: Value].self))
            }
        }
    }

    /// `pkg/identity/claims.go:69-94` (`Flatten`): nested objects become keys joined with ".",
    /// a list keeps its elements as they are, and a scalar becomes a one-element list. So
    /// Zitadel's `{"urn:zitadel:iam:org:project:roles": {"admin": {"<org>": "<domain>"}}}` is kept
    /// only as `urn:zitadel:iam:org:project:roles.admin.<org>`.
    static func flatten(_ claims: [String: Value]) -> [String: [Value]] {
        var flat: [String: [Value]] = [:]
        for (key, value) in claims {
            switch value {
            case .object(let inner):
                for (innerKey, innerValues) in flatten(inner) { flat[key + "." + innerKey] = innerValues }
            case .list(let elements):
                flat[key] = elements
            default:
                flat[key] = [value]
            }
        }
        return flat
    }

    /// `authorize/evaluator/headers_evaluator_evaluation.go:552-584` (`getClaimStringSlice`):
    /// strings as they are, numbers and booleans through Go's `fmt.Sprint`; null, objects and
    /// lists are dropped.
    static func strings(_ values: [Value]) -> [String] {
        values.compactMap { value in
            switch value {
            case .string(let text): text
            case .number(let number): goSprint(number)
            case .bool(let flag): flag ? "true" : "false"
            case .null, .list, .object: nil
            }
        }
    }

    /// Go's `fmt.Sprint(float64)`: `strconv.FormatFloat(v, 'g', -1, 64)`, the shortest digits
    /// that read back as `v`, in `%e` form when the exponent is below -4 or at least 6
    /// (`strconv/ftoa.go`, `%v` with the shortest precision). 1767225600 → "1.7672256e+09".
    static func goSprint(_ number: Double) -> String {
        if number == 0 { return "0" }
        // Swift's description is also the shortest round-trip form; take its digits and exponent.
        let text = "\(abs(number))"
        let parts = text.split(separator: "e")
        let mantissa = parts[0]
        let shift = parts.count > 1 ? Int(parts[1])! : 0
        let integerDigits = mantissa.split(separator: ".", omittingEmptySubsequences: false)[0]
        var digits = Array(mantissa.replacingOccurrences(of: ".", with: ""))
        var point = integerDigits.count + shift  // digits before the decimal point
        while digits.first == "0" {
            digits.removeFirst()
            point -= 1
        }
        while digits.last == "0" { digits.removeLast() }
        let sign = number < 0 ? "-" : ""
        let exponent = point - 1
        if exponent < -4 || exponent >= 6 {
            let fraction = digits.count > 1 ? "." + String(digits.dropFirst()) : ""
            let magnitude = abs(exponent)
            return sign + String(digits[0]) + fraction + "e" + (exponent < 0 ? "-" : "+")
                + (magnitude < 10 ? "0" : "") + String(magnitude)
        }
        if point <= 0 { return sign + "0." + String(repeating: "0", count: -point) + String(digits) }
        if point >= digits.count { return sign + String(digits) + String(repeating: "0", count: point - digits.count) }
        return sign + String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
    }

    // MARK: - The assertion

    /// The signed payload for a request to `host` by a session with `claims` (the ID token's,
    /// then the userinfo answer's over them: `pkg/identity/oidc/oidc.go:170,174,213`), following
    /// `getJWTPayload` (`authorize/evaluator/headers_evaluator_evaluation.go:448-484`).
    func payload(host: String, claims: [String: Value], sessionID: String, now: Date = Date()) -> [String: any Sendable] {
        let flat = Self.flatten(claims)
        let subject = Self.strings(flat["sub"] ?? []).first ?? ""
        let issuedAt = Int(now.timeIntervalSince1970)
        var payload: [String: any Sendable] = [
            // :290-305: the route host, or https://HOST/ with `jwt_issuer_format: uri`; aud is the host.
            "iss": issuerIsURI ? "https://\(host)/" : host, "aud": host,
            "jti": UUID().uuidString, "iat": issuedAt, "exp": issuedAt + 300,  // :313-323
            "sub": subject, "user": subject,  // :325-340
            "email": Self.strings(flat["email"] ?? []).first ?? "",  // :342-354
            // :356-380: without a directory, the session's own `groups` claim, [] when absent.
            "groups": Self.strings(flat["groups"] ?? []),
            "sid": sessionID,  // :430-432
        ]
        let name = Self.strings(flat["name"] ?? []).joined(separator: ",")  // :434-446
        if !name.isEmpty { payload["name"] = name }
        // :471-482: each `jwt_claims_headers` claim that is not one of the above, looked up
        // verbatim in the flattened claims, added only when present, always as one string.
        let base: Set<String> = ["iss", "aud", "jti", "iat", "exp", "sub", "user", "email", "groups", "sid", "name"]
        for claim in forwardedClaims where !base.contains(claim) {
            if let values = flat[claim] { payload[claim] = Self.strings(values).joined(separator: ",") }
        }
        return payload
    }

    /// The `X-Pomerium-Jwt-Assertion` value.
    func assertion(host: String, claims: [String: Value], sessionID: String = UUID().uuidString) -> String {
        signer.token(payload(host: host, claims: claims, sessionID: sessionID))
    }

    // MARK: - Signing in at the provider

    /// What Pomerium's authenticate service does when `subject` signs in at `issuer`: the code
    /// flow with `idp_scopes`, then userinfo; returns the claims it keeps (ID token, userinfo
    /// over it).
    func signIn(at issuer: String, approve: (String) async throws -> URLComponents) async throws -> [String: Value] {
        let discovery = try await Self.getJSON(issuer + "/.well-known/openid-configuration")
        guard case .string(let authorize)? = discovery["authorization_endpoint"],
            case .string(let tokenEndpoint)? = discovery["token_endpoint"],
            case .string(let userinfo)? = discovery["userinfo_endpoint"]
        else { throw Refused(description: "discovery document without endpoints") }
        let redirect = "https://authenticate.neosc.test/oauth2/callback"
        var components = URLComponents(string: authorize)!
        components.queryItems = [
            .init(name: "response_type", value: "code"), .init(name: "client_id", value: "pomerium"),
            .init(name: "redirect_uri", value: redirect), .init(name: "scope", value: scopes.joined(separator: " ")),
            .init(name: "state", value: UUID().uuidString), .init(name: "nonce", value: UUID().uuidString),
        ]
        let answer = try await approve(components.string!)
        guard let code = answer.queryItems?.first(where: { $0.name == "code" })?.value else {
            throw Refused(description: "the provider answered no code")
        }
        var exchange = HTTPClientRequest(url: tokenEndpoint)
        exchange.method = .POST
        exchange.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        var form = URLComponents()
        form.queryItems = [
            .init(name: "grant_type", value: "authorization_code"), .init(name: "code", value: code),
            .init(name: "redirect_uri", value: redirect), .init(name: "client_id", value: "pomerium"),
            .init(name: "client_secret", value: "pomerium-secret"),
        ]
        exchange.body = .bytes(ByteBuffer(string: form.percentEncodedQuery ?? ""))
        let tokens = try await Self.json(try await OIDCMock.client.execute(exchange, timeout: .seconds(10)))
        guard case .string(let idToken)? = tokens["id_token"], case .string(let accessToken)? = tokens["access_token"] else {
            throw Refused(description: "the token endpoint answered no tokens: \(tokens)")
        }
        if scopes.contains("offline_access") {
            guard case .string? = tokens["refresh_token"] else {
                throw Refused(description: "offline_access asked, no refresh token: the session would end with the access token")
            }
        }
        let parts = idToken.split(separator: ".")
        guard parts.count == 3, let payload = Base64URL.decode(parts[1]) else {
            throw Refused(description: "malformed ID token")
        }
        var claims = try JSONDecoder().decode([String: Value].self, from: payload)
        var request = HTTPClientRequest(url: userinfo)
        request.headers.add(name: "Authorization", value: "Bearer \(accessToken)")
        let info = try await Self.json(try await OIDCMock.client.execute(request, timeout: .seconds(10)))
        claims.merge(info) { $1 }
        return claims
    }

    private static func getJSON(_ url: String) async throws -> [String: Value] {
        try await json(try await OIDCMock.client.execute(HTTPClientRequest(url: url), timeout: .seconds(10)))
    }

    private static func json(_ response: HTTPClientResponse) async throws -> [String: Value] {
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            throw Refused(description: "\(response.status): \(String(buffer: body))")
        }
        return try JSONDecoder().decode([String: Value].self, from: Data(body.readableBytesView))
    }

    struct Refused: Error, CustomStringConvertible {
        var description: String
    }

    // MARK: - The shipped configuration

    /// The settings of `infra/pomerium/config.yaml` the peer follows, read line by line (the
    /// file's own layout: top-level keys, two-space indented entries).
    struct ShippedConfiguration: Sendable {
        var claimHeaders: [(header: String, claim: String)] = []
        var issuerFormat: String?
        var scopes: [String]?

        static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("infra/pomerium/config.yaml")

        static func read() throws -> ShippedConfiguration {
            var configuration = ShippedConfiguration()
            var section = ""
            for raw in try String(contentsOf: path, encoding: .utf8).split(separator: "\n") {
                let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
                if !line.hasPrefix(" ") {
                    let pair = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    section = pair[0]
                    if section == "jwt_issuer_format", pair.count > 1 { configuration.issuerFormat = pair[1] }
                    if section == "idp_scopes" { configuration.scopes = [] }
                    continue
                }
                let entry = line.trimmingCharacters(in: .whitespaces)
                switch section {
                case "jwt_claims_headers":
                    let pair = entry.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    if pair.count == 2 { configuration.claimHeaders.append((pair[0], pair[1])) }
                case "idp_scopes" where entry.hasPrefix("- "):
                    configuration.scopes?.append(entry.dropFirst(2).trimmingCharacters(in: .whitespaces))
                default:
                    break
                }
            }
            return configuration
        }
    }
}
