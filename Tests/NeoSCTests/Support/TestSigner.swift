import Crypto
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// A signer the tests control: ES256 keys it can rotate, a JWKS it serves on a loopback port
/// (as an OIDC issuer's `/jwks` and as Pomerium's `/.well-known/pomerium/jwks.json`), and tokens
/// minted with whatever header and claims a test needs, including forged ones. It signs with
/// swift-crypto directly, so what NeoSC verifies with jwt-kit is checked against an independent
/// implementation.
final class TestSigner: Sendable {
    struct SigningKey: Sendable {
        var kid: String
        var key: P256.Signing.PrivateKey
    }

    private struct State {
        var keys: [SigningKey]
        var port = 0
        var keySetFetches = 0
    }

    private let state: Mutex<State>

    private init() {
        state = Mutex(State(keys: [SigningKey(kid: "key-1", key: P256.Signing.PrivateKey())]))
    }

    var port: Int { state.withLock { $0.port } }
    var issuer: String { "http://127.0.0.1:\(port)" }
    var jwksURL: String { issuer + "/.well-known/pomerium/jwks.json" }
    var keySetFetches: Int { state.withLock { $0.keySetFetches } }
    var currentKey: SigningKey { state.withLock { $0.keys.last! } }

    /// Replaces the published key with a new one (kid `key-N`) and returns it.
    @discardableResult
    func rotate() -> SigningKey {
        state.withLock { state in
            let key = SigningKey(kid: "key-\(state.keys.count + 1)", key: P256.Signing.PrivateKey())
            state.keys.append(key)
            return key
        }
    }

    /// The JWKS: only the newest key, as after a completed rotation.
    private func keySet() -> String {
        let key = state.withLock { state in
            state.keySetFetches += 1
            return state.keys.last!
        }
        let point = key.key.publicKey.x963Representation  // 0x04 || X || Y
        let jwk: [String: String] = [
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": key.kid,
            "x": Self.base64URL(point.dropFirst().prefix(32)), "y": Self.base64URL(point.suffix(32)),
        ]
        let data = try! JSONSerialization.data(withJSONObject: ["keys": [jwk]], options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: - Tokens

    /// Registered claims for a token from this issuer to `audience`, valid for `lifetime` from now.
    /// `issuedAt` defaults to the real time; a test whose NeoSC runs on a `ManualClock` passes the
    /// clock's time, so how long the test took to get here cannot move the token's window.
    func claims(
        subject: String, audience: String, lifetime: TimeInterval = 300, extra: [String: any Sendable] = [:],
        issuedAt: Date = Date()
    )
        -> [String: any Sendable]
    {
        let now = issuedAt.timeIntervalSince1970
        var claims: [String: any Sendable] = [
            "iss": issuer, "sub": subject, "aud": audience, "iat": Int(now), "exp": Int(now + lifetime),
        ]
        claims.merge(extra) { $1 }
        return claims
    }

    /// An ES256 token signed with `key` (default: the published one) under `kid` (default: the key's).
    func token(_ claims: [String: any Sendable], key: SigningKey? = nil, kid: String? = nil) -> String {
        let key = key ?? currentKey
        return Self.compact(header: ["alg": "ES256", "typ": "JWT", "kid": kid ?? key.kid], claims: claims) { input in
            Data(try! key.key.signature(for: input).rawRepresentation)
        }
    }

    /// `alg: none`, no signature.
    func unsignedToken(_ claims: [String: any Sendable]) -> String {
        Self.compact(header: ["alg": "none", "kid": currentKey.kid], claims: claims) { _ in Data() }
    }

    /// The key-confusion forgery: HS256 "signed" with the published public key as the HMAC secret.
    func publicKeyHMACToken(_ claims: [String: any Sendable]) -> String {
        let key = currentKey
        let secret = SymmetricKey(data: Data(key.key.publicKey.pemRepresentation.utf8))
        return Self.compact(header: ["alg": "HS256", "typ": "JWT", "kid": key.kid], claims: claims) { input in
            Data(HMAC<SHA256>.authenticationCode(for: input, using: secret))
        }
    }

    private static func compact(
        header: [String: String], claims: [String: any Sendable], sign: (Data) -> Data
    ) -> String {
        let encodedHeader = base64URL(try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        let encodedClaims = base64URL(try! JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]))
        let input = "\(encodedHeader).\(encodedClaims)"
        return input + "." + base64URL(sign(Data(input.utf8)))
    }

    static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    // MARK: - Serving

    /// Runs `body` while the signer serves its discovery document and JWKS on a loopback port.
    static func with(_ body: @Sendable (TestSigner) async throws -> Void) async throws {
        let signer = TestSigner()
        let router = Router()
        router.get(".well-known/openid-configuration") { _, _ -> Response in
            let issuer = signer.issuer
            let document = """
                {"issuer":"\(issuer)","authorization_endpoint":"\(issuer)/authorize",\
                "token_endpoint":"\(issuer)/token","jwks_uri":"\(issuer)/jwks"}
                """
            return Self.json(document)
        }
        router.get("jwks") { _, _ in Self.json(signer.keySet()) }
        router.get(".well-known/pomerium/jwks.json") { _, _ in Self.json(signer.keySet()) }
        try await LoopbackHTTPServer.serving(router, label: "test-signer") { port in
            signer.state.withLock { $0.port = port }
            try await body(signer)
        }
    }

    private static func json(_ text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
