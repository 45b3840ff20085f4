import Crypto
import Domain
import Foundation

/// The bearer tokens NeoSC issues: `neosc_` and 256 random bits in base64url. Only the SHA-256
/// digest is stored, so a leaked database holds no usable token.
public enum BearerCredential {
    package static let prefix = "neosc_"
    /// The token's random bytes.
    static let randomBytes = 32
    /// `neosc_` + 43 base64url characters.
    package static let length = prefix.utf8.count + Base64URL.length(ofBytes: randomBytes)

    public static func issue() -> (token: String, digest: String) {
        let token = prefix + Base64URL.random(byteCount: randomBytes)
        return (token, digest(token))
    }

    /// Lower-case hex SHA-256 of `token`: what the store keeps and looks up. On every request.
    public static func digest(_ token: String) -> String {
        Hex.encode(SHA256.hash(data: Array(token.utf8)))
    }

    /// The token of an `Authorization` value in the Bearer scheme (RFC 6750: the scheme's name in
    /// any case, then one or more spaces), without the spaces and tabs around it; nil for any other
    /// scheme, or none. Read byte by byte: it runs on every API request (Foundation's trimming
    /// was 6 % of the auth path's samples). Fuzzed: `scripts/fuzz --target bearer`.
    public static func token(inAuthorization value: String) -> Substring? {
        let bytes = value.utf8
        func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        guard let schemeStart = bytes.firstIndex(where: { !isBlank($0) }),
            let schemeEnd = bytes[schemeStart...].firstIndex(of: UInt8(ascii: " "))
        else { return nil }
        let scheme = bytes[schemeStart..<schemeEnd]
        // Only an ASCII letter ORed with 0x20 gives a lower-case letter: this is a case-blind compare.
        guard scheme.count == 6, zip(scheme, "bearer".utf8).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        guard let tokenStart = bytes[schemeEnd...].firstIndex(where: { !isBlank($0) }),
            let tokenLast = bytes[tokenStart...].lastIndex(where: { !isBlank($0) })
        else { return nil }
        // Both bounds follow an ASCII byte (a blank) or end the value: on scalar boundaries.
        return value[tokenStart..<bytes.index(after: tokenLast)]
    }

    /// Cheap shape check, so garbage never costs a store lookup.
    public static func isWellFormed(_ token: String) -> Bool {
        token.hasPrefix(prefix) && Base64URL.isRandom(token.dropFirst(prefix.count), byteCount: randomBytes)
    }
}
