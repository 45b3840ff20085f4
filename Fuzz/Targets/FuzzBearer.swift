// Target `bearer`: the `Authorization` header as `IdentityMiddleware` reads it
// (`BearerCredential.token(inAuthorization:)`: leading blanks skipped, the scheme up to the first
// space compared case-insensitively, the token without the spaces and tabs around it), then
// `BearerCredential.isWellFormed`, the check every request's token passes before it costs a store
// lookup, and `BearerCredential.digest`, the key it is looked up by.
//
// Input: the header value, as swift-http-types delivers it (NUL, CR and LF made spaces).
// Properties, for every input:
//   - the token taken is the one a plain reference (below: Foundation's `lowercased()` for the
//     scheme, byte arrays for the blanks) takes, and none exactly when the reference finds none;
//   - `Bearer` in other cases gives the same token;
//   - `isWellFormed` is true exactly when the token is 49 bytes, `neosc_` and 43 base64url
//     characters (a byte-wise reference); then its digest is 64 lower-case hex digits;
//   - a token NeoSC could issue (`neosc_` + base64url of 32 bytes taken from the input) is
//     well-formed, and comes back out of `Bearer <token>` whatever blanks surround it.
import Foundation

func bearerToken(_ authorization: String) -> String? {
    BearerCredential.token(inAuthorization: authorization).map(String.init)
}

/// RFC 6750 read plainly: blanks (space, tab) before the scheme, the scheme up to the first
/// space, `bearer` in any case, then the rest without the blanks around it, if anything is left.
private func referenceToken(_ header: String) -> String? {
    let blanks: Set<UInt8> = [0x20, 0x09]
    let bytes = Array(header.utf8).drop { blanks.contains($0) }
    guard let space = bytes.firstIndex(of: 0x20) else { return nil }
    guard String(decoding: bytes[..<space], as: UTF8.self).lowercased() == "bearer" else { return nil }
    let token = Array(bytes[space...].drop { blanks.contains($0) }.reversed().drop { blanks.contains($0) }.reversed())
    return token.isEmpty ? nil : String(decoding: token, as: UTF8.self)
}

private let base64URL = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

private func referenceWellFormed(_ token: String) -> Bool {
    let bytes = Array(token.utf8)
    return bytes.count == 49 && bytes.prefix(6).elementsEqual("neosc_".utf8) && bytes.dropFirst(6).allSatisfy(base64URL.contains)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBearer(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let header = headerValue(bytes)

    // As a bare token, and as whatever the header carries.
    for token in [header, bearerToken(header)].compactMap({ $0 }) {
        let wellFormed = BearerCredential.isWellFormed(token)
        require(
            wellFormed == referenceWellFormed(token),
            "isWellFormed(\(quoted(token))) is \(wellFormed), the byte-wise reference says \(!wellFormed)")
        if wellFormed {
            let digest = BearerCredential.digest(token)
            require(
                digest.utf8.count == 64 && digest.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) },
                "digest of \(quoted(token)) is \(quoted(digest))")
        }
    }

    let token = bearerToken(header)
    let reference = referenceToken(header)
    require(token == reference, "\(quoted(header)) gives \(token.map(quoted) ?? "no token"), the reference \(reference.map(quoted) ?? "none")")
    if let token {
        // By scalars, not characters: a space and a combining mark after it are one character.
        let rest = String(String.UnicodeScalarView(header.unicodeScalars.drop { $0 == " " || $0 == "\t" }.drop { $0 != " " }))
        for spelling in ["bearer", "BEARER", "Bearer", "bEaReR"] {
            require(
                bearerToken(spelling + rest) == token,
                "\(quoted(header)) with the scheme spelt \(spelling) gives another token")
        }
    }

    // A token NeoSC could have issued, from the input's first 32 bytes.
    let random = Array(bytes.prefix(32)) + [UInt8](repeating: 0, count: max(0, 32 - bytes.count))
    let issued = BearerCredential.prefix + Base64URL.encode(random)
    require(issued.utf8.count == BearerCredential.length, "an issued token is \(issued.utf8.count) bytes")
    require(BearerCredential.isWellFormed(issued), "an issuable token \(quoted(issued)) is not well-formed")
    let before = String(repeating: " ", count: Int(bytes.first ?? 0) % 3)
    let after = String(repeating: "\t", count: Int(bytes.last ?? 0) % 3)
    require(bearerToken("Bearer " + before + issued + after) == issued, "Bearer \(quoted(issued)) does not give the token back")
    return 0
}
