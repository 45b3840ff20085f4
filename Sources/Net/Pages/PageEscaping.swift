import Mustache

/// How the portal's templates escape what `{{name}}` inserts: `&`, `<`, `>`, `"` and `'` as
/// swift-mustache's HTML content type does, found byte by byte in the text's UTF-8.
///
/// swift-mustache walks the text by `Character` and looks each one up in a dictionary: a
/// twentieth of a dashboard view, and it misses a special character that a combining mark joins
/// into one `Character` (a `"` followed by U+0301 stayed a `"`, which ends an attribute value).
/// Every byte of a multi-byte UTF-8 sequence is 0x80 or above, so the ASCII characters replaced
/// here are never part of another character's encoding: the output is valid UTF-8 again.
struct PageEscaping: MustacheContentType {
    /// The name templates select it by: `{{% CONTENT_TYPE: PORTAL_HTML}}`.
    static let name = "PORTAL_HTML"

    func escapeText(_ text: String) -> String {
        var text = text
        let escaped: String? = text.withUTF8 { utf8 in
            guard utf8.contains(where: Self.isSpecial) else { return nil }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(utf8.count + 32)
            Self.escape(utf8, into: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
        return escaped ?? text
    }

    /// `utf8` appended to `bytes`, escaped.
    static func escape(_ utf8: UnsafeBufferPointer<UInt8>, into bytes: inout [UInt8]) {
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "&"): bytes.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): bytes.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): bytes.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): bytes.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): bytes.append(contentsOf: "&#39;".utf8)
            default: bytes.append(byte)
            }
        }
    }

    private static func isSpecial(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "&") || byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "\"")
            || byte == UInt8(ascii: "'")
    }
}
