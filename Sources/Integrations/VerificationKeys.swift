import Actors
import Domain
import Foundation
import JWTKit

/// The public keys of one fetched JWKS, each pinned to the one algorithm it verifies. A key
/// without `alg` gets the algorithm its type implies (RS256 for RSA, ES256/384/512 by curve,
/// EdDSA), so a token cannot pick how its signature is checked.
struct VerificationKeys: Sendable {
    struct Key: Sendable {
        var id: String?
        var algorithm: String
        var verifier: JWTKeyCollection
    }

    /// Asymmetric algorithms only: `none` and the HMAC family are never accepted, so a token
    /// "signed" with a public key as an HMAC secret is refused before any key is looked at.
    static let acceptedAlgorithms: Set<String> = [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
    ]

    let keys: [Key]

    /// A cache of the key set at the URL `locate` names, fetched over `http`; `owner` names
    /// whose keys they are in the 503 when they cannot be fetched.
    static func cache(
        owner: String, http: OutboundHTTP, clock: WallClock, maxAge: TimeInterval, refreshInterval: TimeInterval,
        locate: @escaping @Sendable () async throws -> String
    ) -> RemoteResourceCache<VerificationKeys> {
        RemoteResourceCache(maxAge: maxAge, minimumRefreshInterval: refreshInterval, clock: clock) {
            let reply = try await http.get(try await locate())
            guard reply.status == 200 else { throw DomainError.unavailable("\(owner)'s key set is unavailable") }
            return try await parse(reply.body)
        }
    }

    /// Parses a JWKS document, skipping entries that are not usable public signing keys (private
    /// parts, symmetric keys, encryption keys, unknown types) rather than failing on them.
    static func parse(_ data: Data) async throws -> VerificationKeys {
        struct Document: Decodable { var keys: [Entry] }
        struct Entry: Decodable {
            var jwk: JWK?
            var use: String?
            var hasPrivatePart: Bool
            private enum CodingKeys: String, CodingKey { case use, d }
            init(from decoder: any Decoder) throws {
                jwk = try? JWK(from: decoder)
                let container = try decoder.container(keyedBy: CodingKeys.self)
                use = try? container.decodeIfPresent(String.self, forKey: .use)
                hasPrivatePart = container.contains(.d)
            }
        }
        guard let document = try? JSONDecoder().decode(Document.self, from: data) else {
            throw DomainError.unavailable("The identity provider's key set is not a JWKS document")
        }
        var keys: [Key] = []
        for entry in document.keys {
            guard var jwk = entry.jwk, !entry.hasPrivatePart, entry.use == nil || entry.use == "sig",
                let algorithm = jwk.algorithm?.rawValue ?? defaultAlgorithm(for: jwk),
                acceptedAlgorithms.contains(algorithm)
            else { continue }
            jwk.algorithm = JWK.Algorithm(rawValue: algorithm)
            let verifier = JWTKeyCollection()
            do {
                if jwk.keyIdentifier == nil { jwk.keyIdentifier = JWKIdentifier(string: "unnamed-\(keys.count)") }
                try await verifier.add(jwk: jwk, isDefault: true)
            } catch {
                continue
            }
            keys.append(Key(id: entry.jwk?.keyIdentifier?.string, algorithm: algorithm, verifier: verifier))
        }
        return VerificationKeys(keys: keys)
    }

    private static func defaultAlgorithm(for jwk: JWK) -> String? {
        switch jwk.keyType {
        case .rsa: "RS256"
        case .ecdsa:
            switch jwk.curve?.rawValue {
            case "P-256": "ES256"
            case "P-384": "ES384"
            case "P-521": "ES512"
            default: nil
            }
        case .octetKeyPair: jwk.curve?.rawValue == "Ed25519" ? "EdDSA" : nil
        default: nil
        }
    }

    /// The keys a token with this header may have been signed with: the one named by `kid`, or
    /// when the token names none, every key of its algorithm.
    func candidates(kid: String?, algorithm: String) -> [Key] {
        if let kid { return keys.filter { $0.id == kid && $0.algorithm == algorithm } }
        return keys.filter { $0.algorithm == algorithm }
    }

    func contains(kid: String) -> Bool { keys.contains { $0.id == kid } }
}
