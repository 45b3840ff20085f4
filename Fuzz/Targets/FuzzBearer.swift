// Target `bearer`: the `Authorization` header as `IdentityMiddleware.handle` takes it apart
// (scheme and token split at the first space, the scheme compared case-insensitively, the token
// trimmed), then `BearerCredential.isWellFormed`, the check every request's token passes before
// it costs a store lookup, and `BearerCredential.digest`, the key it is looked up by.
//
// The split is three lines inside the middleware, which needs a whole Portal to construct: they
// are repeated below, and scripts/fuzz refuses to build when IdentityMiddleware.swift no longer
// has them word for word.
//
// Input: the header value, as swift-http-types delivers it (NUL, CR and LF made spaces).
// Properties, for every input:
//   - `isWellFormed` is true exactly when the token is 49 bytes, `neosc_` and 43 base64url
//     characters (a byte-wise reference); then its digest is 64 lower-case hex digits;
//   - a token is taken exactly when the scheme is `bearer` in ASCII letters of any case (no
//     Unicode look-alike), and `Bearer` in other cases gives the same token;
//   - a token NeoSC could issue (`neosc_` + base64url of 32 bytes taken from the input) is
//     well-formed, and comes back out of `Bearer <token>` whatever blanks surround it.
import Foundation

/// `IdentityMiddleware.handle`: the token an `Authorization` value carries, or nil when it is
/// not a Bearer credential (the middleware's "Authorization must be a Bearer token").
func bearerToken(_ authorization: String) -> String? {
    let parts = authorization.split(separator: " ", maxSplits: 1)
    if parts.count == 2, parts[0].lowercased() == "bearer" {
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }
    return nil
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

    let parts = header.split(separator: " ", maxSplits: 1)
    if let token = bearerToken(header) {
        // Accepted: the scheme is "bearer" in ASCII letters of either case, nothing else.
        let scheme = Array(parts[0].utf8)
        require(
            scheme.count == 6 && zip(scheme, "bearer".utf8).allSatisfy { $0 | 0x20 == $1 },
            "scheme \(quoted(String(parts[0]))) accepted as Bearer")
        for spelling in ["bearer", "BEARER", "Bearer", "bEaReR"] {
            require(
                bearerToken(spelling + " " + parts[1]) == token,
                "\(quoted(header)) with the scheme spelt \(spelling) gives another token")
        }
    } else {
        require(
            parts.count < 2 || parts[0].utf8.count != 6 || !zip(parts[0].utf8, "bearer".utf8).allSatisfy { $0 | 0x20 == $1 },
            "a Bearer header \(quoted(header)) gave no token")
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
