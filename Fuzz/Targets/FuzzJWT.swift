// Target `jwt`: signed tokens, the way `X-Pomerium-Jwt-Assertion` and an OpenID provider's ID
// tokens are checked. Compiled as they are: SignedTokenVerifier (header parsing, algorithm and
// key choice, jwt-kit's verification, the mapping of every failure to a TokenRejection),
// VerificationKeys (JWKS parsing), TokenClaims (the lenient claim decoding), ClaimRules,
// PomeriumGate (assertion and plain-header identities), RemoteResourceCache, ProviderRoles,
// TimeSpan; jwt-kit and swift-crypto are the real libraries (built by Fuzz/Deps, not
// instrumented). Only OutboundHTTP is a shim, serving the harness's key set.
//
// The key set (JWKS) the verifiers fetch holds: `es-key` (P-256, alg ES256), `es-noalg` (P-256,
// no alg: ES256 by curve), `ed-key` (Ed25519, no alg: EdDSA), and keys that must be skipped:
// `es-private` (has its private part `d`), `es-enc` (use enc), `es-hs` (alg HS256), `hmac` (a
// symmetric key). The harness can also sign with a key not in the set (`forger`), with the
// `hmac` secret (HS256) or not at all (alg none). The clock stands at 2026-01-01T00:00:00Z.
//
// Input, first byte the mode:
//   0: a raw token (the rest of the input).
//   1: byte signer, byte header choice (alg x kid), byte flags, then the payload bytes; the
//      harness builds the header, signs with the chosen key, and verifies.
//   2: byte signer, then "<header JSON>\0<payload bytes>", signed as it is.
//   3: Pomerium's plain headers "<email>\0<user>\0<groups>" (X-Pomerium-Email/User/Groups).
// Properties:
//   - every token is verified or refused with a TokenRejection: no other error, no trap; the
//     Pomerium gate and a verifier with the same rules agree on it;
//   - only a key of the set verifies: a token that verifies carries a signature that swift-crypto
//     itself accepts under `es-key`, `es-noalg` or `ed-key`, for the algorithm its header names
//     (ES256 for P-256, EdDSA for Ed25519) and, when it names a kid, that key's; in modes 1 and 2
//     the signer is one of those three, never a skipped key, the forger, HMAC or none;
//   - a verified token's claims hold the rules, checked again here: an accepted issuer and
//     audience, not expired (60 s leeway), not before its nbf/iat, no longer-lived than the
//     maximum (Pomerium: 1 h; OIDC: 1 day), a subject, and the expected nonce when one is;
//   - the identity the gate makes of it: provider `pomerium`, the token's subject, its e-mail
//     trimmed and lower-case, expiry the token's, and only roles a claim names exactly
//     (ASCII case aside);
//   - plain headers: e-mail trimmed and lower-case, subject the user or else the e-mail, only
//     roles a group names exactly (trimmed, ASCII case aside), nothing verified.
import Crypto
import Foundation

// MARK: - Keys and the verifiers

/// 2026-01-01T00:00:00Z.
let now = Date(timeIntervalSince1970: 1_767_225_600)
let clock = WallClock { now }

private func scalar(_ seed: UInt8) -> Data { Data((0..<32).map { UInt8(truncatingIfNeeded: Int($0) &* 7 &+ Int(seed)) }) }

let esKey = try! P256.Signing.PrivateKey(rawRepresentation: scalar(1))
let esNoAlgKey = try! P256.Signing.PrivateKey(rawRepresentation: scalar(2))
let esPrivateKey = try! P256.Signing.PrivateKey(rawRepresentation: scalar(3))
let esEncKey = try! P256.Signing.PrivateKey(rawRepresentation: scalar(4))
let esHSKey = try! P256.Signing.PrivateKey(rawRepresentation: scalar(5))
let forgerKey = try! P256.Signing.PrivateKey(rawRepresentation: scalar(6))
let edKey = try! Curve25519.Signing.PrivateKey(rawRepresentation: scalar(7))
let hmacSecret = SymmetricKey(data: scalar(8))

private func ecJWK(_ key: P256.Signing.PrivateKey, _ fields: [String: String]) -> [String: String] {
    let raw = key.publicKey.rawRepresentation
    return [
        "kty": "EC", "crv": "P-256", "x": Base64URL.encode(raw.prefix(32)), "y": Base64URL.encode(raw.suffix(32)),
    ].merging(fields) { $1 }
}

let jwks: Data = {
    let keys: [[String: String]] = [
        ecJWK(esKey, ["kid": "es-key", "alg": "ES256", "use": "sig"]),
        ecJWK(esNoAlgKey, ["kid": "es-noalg"]),
        ["kty": "OKP", "crv": "Ed25519", "kid": "ed-key", "x": Base64URL.encode(edKey.publicKey.rawRepresentation)],
        ecJWK(esPrivateKey, ["kid": "es-private", "d": Base64URL.encode(esPrivateKey.rawRepresentation)]),
        ecJWK(esEncKey, ["kid": "es-enc", "use": "enc"]),
        ecJWK(esHSKey, ["kid": "es-hs", "alg": "HS256"]),
        ["kty": "oct", "kid": "hmac", "k": Base64URL.encode(hmacSecret.withUnsafeBytes { Array($0) })],
    ]
    return try! JSONSerialization.data(withJSONObject: ["keys": keys], options: [.sortedKeys])
}()

let http = OutboundHTTP(serving: jwks)
let pomeriumSettings = PomeriumSettings(
    jwksURL: "https://authenticate.example.com/.well-known/pomerium/jwks.json", audiences: ["neosc.example.com"],
    projectID: "314159")
let gate = PomeriumGate(settings: pomeriumSettings, http: http, clock: clock)
/// The rules PomeriumGate.init gives its own verifier.
let pomeriumRules = ClaimRules(
    issuers: PomeriumSettings.spellings(of: pomeriumSettings.issuers),
    audiences: PomeriumSettings.spellings(of: pomeriumSettings.audiences), maxLifetime: 3_600)
let keyCache = VerificationKeys.cache(owner: "Fuzz", http: http, clock: clock, maxAge: 300, refreshInterval: 30) {
    "https://keys.example.com/jwks"
}
let pomeriumVerifier = SignedTokenVerifier(keys: keyCache, rules: pomeriumRules, clock: clock)
/// An OpenID provider's ID tokens, as OIDCProvider checks them (default lifetime, a nonce).
let oidcRules = ClaimRules(issuers: ["https://id.example.com"], audiences: ["neosc-client"])
let oidcVerifier = SignedTokenVerifier(keys: keyCache, rules: oidcRules, clock: clock)
let expectedNonce = "fuzz-nonce"

// MARK: - Signing

enum Signer: CaseIterable {
    case es, esNoAlg, ed, esPrivate, esEnc, esHS, forger, hmac, none

    /// May a token this key signed verify at all?
    var isInKeySet: Bool { self == .es || self == .esNoAlg || self == .ed }

    func sign(_ input: Data) -> Data {
        switch self {
        case .es: try! esKey.signature(for: input).rawRepresentation
        case .esNoAlg: try! esNoAlgKey.signature(for: input).rawRepresentation
        case .esPrivate: try! esPrivateKey.signature(for: input).rawRepresentation
        case .esEnc: try! esEncKey.signature(for: input).rawRepresentation
        case .esHS: try! esHSKey.signature(for: input).rawRepresentation
        case .forger: try! forgerKey.signature(for: input).rawRepresentation
        case .ed: try! edKey.signature(for: input)
        case .hmac: Data(HMAC<SHA256>.authenticationCode(for: input, using: hmacSecret))
        case .none: Data()
        }
    }
}

let algorithms: [String?] = ["ES256", "EdDSA", "HS256", "none", "RS256", "ES384", "es256", nil]
let kids: [String?] = [nil, "es-key", "es-noalg", "ed-key", "es-private", "es-enc", "es-hs", "hmac", "unknown"]

func token(header: Data, payload: some Sequence<UInt8>, signer: Signer) -> String {
    let signingInput = Base64URL.encode(header) + "." + Base64URL.encode(payload)
    return signingInput + "." + Base64URL.encode(signer.sign(Data(signingInput.utf8)))
}

// MARK: - The harness

enum Verdict: Equatable {
    case verified
    case rejected(TokenRejection)
    case other(String)
}

struct Results: @unchecked Sendable {
    var pomerium: Verdict
    var claims: TokenClaims?
    var gate: Verdict
    var identity: ExternalIdentity?
    var oidc: Verdict
    var oidcClaims: TokenClaims?
}

func verdict(of error: any Error) -> Verdict {
    if let rejection = error as? TokenRejection { return .rejected(rejection) }
    return .other("\(type(of: error)): \(error)")
}

func verifyEverywhere(_ token: String, nonce: String?) -> Results {
    runBlocking {
        var results = Results(pomerium: .verified, gate: .verified, oidc: .verified)
        do { results.claims = try await pomeriumVerifier.verify(token) } catch { results.pomerium = verdict(of: error) }
        do { results.identity = try await gate.identity(fromAssertion: token) } catch { results.gate = verdict(of: error) }
        do {
            results.oidcClaims = try await oidcVerifier.verify(token, expectedNonce: nonce)
        } catch {
            results.oidc = verdict(of: error)
        }
        return results
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJWT(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    switch input.byte() % 4 {
    case 0:
        let raw = input.text
        check(token: raw, signer: nil, named: nil, nonce: expectedNonce)
    case 1:
        let signer = Signer.allCases[Int(input.byte()) % Signer.allCases.count]
        let choice = Int(input.byte())
        let flags = input.byte()
        let alg = algorithms[choice % algorithms.count]
        let kid = kids[(choice / algorithms.count) % kids.count]
        var header: [String: String] = ["typ": "JWT"]
        header["alg"] = alg
        header["kid"] = kid
        let headerJSON = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        let token = token(header: headerJSON, payload: input.bytes, signer: signer)
        check(token: token, signer: signer, named: (alg, kid), nonce: flags & 1 == 0 ? expectedNonce : nil)
    case 2:
        let signer = Signer.allCases[Int(input.byte()) % Signer.allCases.count]
        let header = Data(input.field())
        let token = token(header: header, payload: input.bytes, signer: signer)
        check(token: token, signer: signer, named: nil, nonce: expectedNonce)
    default:
        let email = headerValue(input.field())
        let user = headerValue(input.field())
        let groups = headerValue(input.field())
        checkHeaders(email: email, user: user.isEmpty ? nil : user, groups: groups.isEmpty ? nil : groups)
    }
    return 0
}

/// NEOSC_FUZZ_PRINT_TOKENS=1: print every token and its verdicts (for writing raw-token seeds).
let printTokens = ProcessInfo.processInfo.environment["NEOSC_FUZZ_PRINT_TOKENS"] != nil

/// `named`: the alg and kid the harness put in the header, when it built it.
func check(token: String, signer: Signer?, named: (alg: String?, kid: String?)?, nonce: String?) {
    let results = verifyEverywhere(token, nonce: nonce)
    if printTokens { print("\(token)\n  pomerium: \(results.pomerium), gate: \(results.gate), oidc: \(results.oidc)") }
    for (verifier, verdict) in [("pomerium", results.pomerium), ("gate", results.gate), ("oidc", results.oidc)] {
        if case .other(let error) = verdict {
            require(false, "\(verifier): \(quoted(token)) refused with \(error), not a TokenRejection")
        }
    }
    require(results.pomerium == results.gate, "the gate says \(results.gate), its rules say \(results.pomerium)")
    let verifiedAny = results.pomerium == .verified || results.oidc == .verified
    if token.utf8.count > 16_384 {
        require(!verifiedAny, "a token over 16 KiB verified")
    }
    guard verifiedAny else { return }

    if let signer {
        require(signer.isInKeySet, "a token signed by \(signer) verified: \(quoted(token))")
    }
    if let named, let signer {
        let expectedAlg = signer == .ed ? "EdDSA" : "ES256"
        let ownKid = signer == .es ? "es-key" : signer == .esNoAlg ? "es-noalg" : "ed-key"
        require(named.alg == expectedAlg, "\(signer)'s signature verified under alg \(named.alg ?? "nil")")
        require(named.kid == nil || named.kid == ownKid, "\(signer)'s signature verified under kid \(named.kid ?? "")")
    }
    checkSignature(token)

    if let claims = results.claims {
        checkRules(claims.registered, pomeriumRules, nonce: nil, token)
        if let identity = results.identity { checkIdentity(identity, claims, token) }
    }
    if let claims = results.oidcClaims {
        checkRules(claims.registered, oidcRules, nonce: nonce, token)
    }
}

/// swift-crypto's own verdict on the token's signature, under the three keys of the set.
func checkSignature(_ token: String) {
    let parts = token.split(separator: ".", omittingEmptySubsequences: false)
    // The header as Foundation's JSONDecoder reads it, like SignedTokenVerifier and jwt-kit do
    // (JSONSerialization is stricter: it refuses a raw control character inside a string, which
    // JSONDecoder lets through).
    struct Header: Decodable {
        var alg: String?
        var kid: String?
    }
    guard parts.count == 3, let headerData = Base64URL.decode(parts[0]),
        let header = try? JSONDecoder().decode(Header.self, from: headerData),
        let signature = Base64URL.decode(parts[2])
    else {
        require(false, "verified, but its header or signature does not decode: \(quoted(token))")
        return
    }
    let signed = Data((parts[0] + "." + parts[1]).utf8)
    let (alg, kid) = (header.alg, header.kid)
    var accepted: [String] = []
    if let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature) {
        if esKey.publicKey.isValidSignature(ecdsa, for: signed) { accepted.append("es-key") }
        if esNoAlgKey.publicKey.isValidSignature(ecdsa, for: signed) { accepted.append("es-noalg") }
    }
    if edKey.publicKey.isValidSignature(signature, for: signed) { accepted.append("ed-key") }
    let matching = accepted.filter { key in
        (kid == nil || kid == key) && alg == (key == "ed-key" ? "EdDSA" : "ES256")
    }
    require(
        !matching.isEmpty,
        "verified, but no key of the set signed it for alg \(alg ?? "nil"), kid \(kid ?? "nil") (signed by: \(accepted)): \(quoted(token))"
    )
}

/// ClaimRules.check, restated.
func checkRules(_ claims: SignedClaims, _ rules: ClaimRules, nonce: String?, _ token: String) {
    let what = "verified \(quoted(token)):"
    require(claims.issuer.map(rules.issuers.contains) == true, "\(what) issuer \(claims.issuer ?? "nil") not accepted")
    require(!Set(claims.audiences).isDisjoint(with: rules.audiences), "\(what) audiences \(claims.audiences) not accepted")
    guard let expires = claims.expiresAt else {
        require(false, "\(what) no expiry")
        return
    }
    require(now.timeIntervalSince(expires) < rules.leeway, "\(what) expired at \(expires)")
    if let notBefore = claims.notBefore {
        require(notBefore.timeIntervalSince(now) <= rules.leeway, "\(what) not before \(notBefore)")
    }
    if let issued = claims.issuedAt {
        require(issued.timeIntervalSince(now) <= rules.leeway, "\(what) issued in the future, \(issued)")
    }
    let start = claims.issuedAt ?? now
    require(
        expires.timeIntervalSince(start) <= rules.maxLifetime,
        "\(what) lives \(expires.timeIntervalSince(start)) s, over \(rules.maxLifetime)")
    require(!(claims.subject ?? "").isEmpty, "\(what) no subject")
    if let nonce {
        require(claims.nonce == nonce, "\(what) nonce \(claims.nonce ?? "nil"), expected \(nonce)")
    }
}

/// Role names compared the way ProviderRoles promises: exactly, but for ASCII case.
func namesRole(_ name: String, _ role: Role) -> Bool {
    let a = Array(name.utf8)
    let b = Array(role.rawValue.utf8)
    return a.count == b.count && zip(a, b).allSatisfy { x, y in x == y || (x >= 0x41 && x <= 0x5A && x | 0x20 == y) }
}

func checkIdentity(_ identity: ExternalIdentity, _ claims: TokenClaims, _ token: String) {
    let what = "assertion \(quoted(token)):"
    require(identity.provider == "pomerium", "\(what) provider \(identity.provider)")
    require(identity.subject == claims.registered.subject && !identity.subject.isEmpty, "\(what) subject \(quoted(identity.subject))")
    require(
        identity.email == Validation.providerEmail(claims.email),
        "\(what) e-mail \(quoted(identity.email ?? "nil"))")
    require(identity.expiresAt == claims.registered.expiresAt, "\(what) expiry \(identity.expiresAt)")
    let named = claims.groups + claims.projectRoles.values.flatMap { $0 }
    for role in identity.roles {
        require(named.contains { namesRole($0, role) }, "\(what) role \(role) that no claim names exactly")
    }
}

func checkHeaders(email: String, user: String?, groups: String?) {
    let validUntil = now.addingTimeInterval(60)
    let identity = PomeriumGate.identity(email: email, user: user, groups: groups, validUntil: validUntil)
    let normalised = email.trimmingCharacters(in: .whitespaces).lowercased()
    require(identity.provider == "pomerium" && identity.email == normalised, "headers: e-mail \(quoted(identity.email ?? "nil"))")
    require(identity.subject == ((user?.isEmpty ?? true) ? normalised : user!), "headers: subject \(quoted(identity.subject))")
    require(!identity.emailVerified && !identity.mfaVerified && identity.expiresAt == validUntil, "headers: vouched for more than they can")
    let names = (groups ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    for role in Role.allCases {
        require(
            identity.roles.contains(role) == names.contains { namesRole($0, role) },
            "headers: groups \(quoted(groups ?? "")) give roles \(identity.roles.map(\.rawValue).sorted())")
    }
}
