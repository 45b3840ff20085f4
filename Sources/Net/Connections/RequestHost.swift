import NIOHTTP1

/// The host a request names (RFC 9112 §3.2): exactly one `Host` in an HTTP/1.1 request, at most
/// one in an HTTP/1.0 one, and `host[:port]` with a host (an `http` URI has one, RFC 9110 §4.2.1).
/// Anything else is a 400: a proxy and NeoSC that read a request's host differently are how caches
/// are poisoned and routes confused. A target in absolute form (`http://host/path`) names the host
/// itself, and that is the request's host (RFC 9112 §3.2.2), held to the same rule and without
/// user information; a URL of another scheme is refused.
///
/// The host is held to what DNS names and IP addresses are made of, narrower than RFC 3986's
/// `reg-name`: its sub-delimiters let through `neosc,evil.example` (two `Host` fields as a proxy
/// joins them) and `a;b`, and no real host needs a %-escape.
enum RequestHost {
    enum Flaw: Equatable {
        case missing
        case repeated
        case invalid
        /// A target that is neither a path, `*`, an http(s) URL, nor (for a `CONNECT`) `host:port`:
        /// a URL of another scheme, whose host would go unchecked (Hummingbird routes its path).
        case target
    }

    /// What is wrong with `head`'s `Host`, or with the host its absolute-form target names.
    static func flaw(in head: HTTPRequestHead) -> Flaw? {
        // One pass, nothing allocated: this is read for every request.
        var named: String?
        for (name, value) in head.headers where isHostName(name) {
            guard named == nil else { return .repeated }
            named = value
        }
        if let named {
            // Whitespace around a field's value is not part of it (RFC 9112 §5).
            guard isValid(named.utf8.trimmingWhitespace) else { return .invalid }
        } else if !head.version.precedesHTTP11 {
            return .missing
        }
        guard let first = head.uri.utf8.first, first != UInt8(ascii: "/"), first != UInt8(ascii: "*"), head.method != .CONNECT else {
            return nil
        }
        guard let authority = absoluteFormAuthority(of: head.uri) else { return .target }
        return authority.contains(UInt8(ascii: "@")) || !isValid(authority) ? .invalid : nil
    }

    /// The authority of an absolute-form target (`http://host:port/path`), which is the request's
    /// host; nil for the usual origin-form target (`/path`), or a URL of another scheme.
    static func absoluteFormAuthority(of target: String) -> Substring.UTF8View? {
        let bytes = target.utf8
        guard let first = bytes.first, first != UInt8(ascii: "/"), first != UInt8(ascii: "*") else { return nil }
        for scheme in ["http://", "https://"] where bytes.count >= scheme.utf8.count {
            let end = bytes.index(bytes.startIndex, offsetBy: scheme.utf8.count)
            guard zip(bytes[..<end], scheme.utf8).allSatisfy({ $0 == $1 || ($1 >= UInt8(ascii: "a") && $0 | 0x20 == $1) }) else {
                continue
            }
            let rest = bytes[end...]
            let authorityEnd = rest.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }
            return rest[..<(authorityEnd ?? rest.endIndex)]
        }
        return nil
    }

    /// Whether `value` is `host[":" port]`: an IPv6 address in brackets (hex digits, colons, and
    /// the dots of an embedded IPv4 address), or a name of letters, digits, `-`, `.` and `_` (an
    /// IPv4 address is one); the port digits only.
    static func isValid(_ value: Substring.UTF8View) -> Bool {
        var rest = value
        if rest.first == UInt8(ascii: "[") {
            guard let close = rest.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let literal = rest[rest.index(after: rest.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else {
                return false
            }
            rest = rest[rest.index(after: close)...]
        } else {
            let end = rest.firstIndex(of: UInt8(ascii: ":")) ?? rest.endIndex
            guard end > rest.startIndex, rest[..<end].allSatisfy(isNameByte) else { return false }
            rest = rest[end...]
        }
        guard let colon = rest.first else { return true }
        return colon == UInt8(ascii: ":") && rest.dropFirst().allSatisfy(isDigit)
    }

    /// Whether a field's name is `Host`, in any case.
    private static func isHostName(_ name: String) -> Bool {
        name.utf8.count == 4 && zip(name.utf8, "host".utf8).allSatisfy { $0 | 0x20 == $1 }
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
    }
}

extension String.UTF8View {
    /// The bytes between leading and trailing spaces and tabs.
    fileprivate var trimmingWhitespace: Substring.UTF8View {
        let isWhitespace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        guard let first = firstIndex(where: { !isWhitespace($0) }), let last = lastIndex(where: { !isWhitespace($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}
