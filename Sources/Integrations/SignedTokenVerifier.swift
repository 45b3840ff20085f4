import Actors
import Domain
import Foundation
import JWTKit
import Services

/// Checks a compact JWS against a provider's key set: an accepted asymmetric algorithm, a known
/// key (fetching the key set again, rate-limited, when a token names a key it lacks — that is
/// how rotation is picked up), a valid signature, and then the claim rules. Anything short of
/// that is a `TokenRejection`.
struct SignedTokenVerifier: Sendable {
    let keys: RemoteResourceCache<VerificationKeys>
    let rules: ClaimRules
    let clock: WallClock

    /// The verified claims. Throws `TokenRejection`, or `DomainError.unavailable` when the key
    /// set cannot be fetched at all.
    func verify(_ token: String, expectedNonce: String? = nil) async throws -> TokenClaims {
        guard token.utf8.count <= 16_384, let header = Self.header(of: token) else { throw TokenRejection.malformed }
        guard let algorithm = header.alg, VerificationKeys.acceptedAlgorithms.contains(algorithm) else {
            throw TokenRejection.unsupportedAlgorithm
        }
        var keySet = try await keys.current()
        if let kid = header.kid, !keySet.contains(kid: kid), let refreshed = try await keys.refreshIfAllowed() {
            keySet = refreshed
        }
        let candidates = keySet.candidates(kid: header.kid, algorithm: algorithm)
        guard !candidates.isEmpty else {
            if let kid = header.kid, keySet.contains(kid: kid) { throw TokenRejection.unsupportedAlgorithm }
            throw TokenRejection.unknownKey
        }
        var claims: TokenClaims?
        for candidate in candidates {
            do {
                claims = try await candidate.verifier.verify(token, as: TokenClaims.self)
                break
            } catch let error as JWTError where error.errorType == .malformedToken {
                throw TokenRejection.malformed
            } catch {
                continue
            }
        }
        guard let claims else { throw TokenRejection.badSignature }
        try rules.check(claims.registered, at: clock.now(), expectedNonce: expectedNonce)
        return claims
    }

    private struct Header: Decodable {
        var alg: String?
        var kid: String?
    }

    private static func header(of token: String) -> Header? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Base64URL.decode(parts[0]) else { return nil }
        return try? JSONDecoder().decode(Header.self, from: data)
    }
}
