import Foundation

/// Base64url without padding (RFC 4648 §5), as bearer tokens, PKCE and JOSE use it.
package enum Base64URL {
    package static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    package static func decode(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }

    /// How many characters `count` bytes take, unpadded.
    package static func length(ofBytes count: Int) -> Int {
        (count * 4 + 2) / 3
    }

    /// Whether `text` is what `random(byteCount:)` makes of `count` bytes: exactly that many
    /// characters' worth, each of the base64url alphabet. A cheap shape check before a lookup.
    package static func isRandom(_ text: Substring, byteCount count: Int) -> Bool {
        text.utf8.count == length(ofBytes: count)
            && text.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D
                    || byte == 0x5F
            }
    }

    /// `count` bytes from the system's cryptographic random source, encoded.
    package static func random(byteCount count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return encode((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }
}
