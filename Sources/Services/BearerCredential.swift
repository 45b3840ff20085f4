import Crypto
import Domain
import Foundation

/// The bearer tokens NeoSC issues: `neosc_` and 256 random bits in base64url. Only the SHA-256
/// digest is stored, so a leaked database holds no usable token.
public enum BearerCredential {
    package static let prefix = "neosc_"
    /// `neosc_` + 43 base64url characters.
    package static let length = 6 + 43
    /// The token's random bytes.
    static let randomBytes = 32

    public static func issue() -> (token: String, digest: String) {
        let token = prefix + Base64URL.random(byteCount: randomBytes)
        return (token, digest(token))
    }

    /// Lower-case hex SHA-256 of `token`: what the store keeps and looks up. On every request.
    public static func digest(_ token: String) -> String {
        Hex.encode(SHA256.hash(data: Array(token.utf8)))
    }

    /// Cheap shape check, so garbage never costs a store lookup.
    public static func isWellFormed(_ token: String) -> Bool {
        token.hasPrefix(prefix) && Base64URL.isRandom(token.dropFirst(prefix.count), byteCount: randomBytes)
    }
}
