import NIOHTTP1

/// The `Host` a request names (RFC 9112 §3.2): exactly one in an HTTP/1.1 request, at most one in
/// an HTTP/1.0 one, and a valid `uri-host [":" port]` (RFC 3986 §3.2.2) whose host is not empty
/// (an `http` URI has a host, RFC 9110 §4.2.1). Anything else is a 400: a proxy and NeoSC that read
/// a request's host differently are how caches are poisoned and routes confused. A target in
/// absolute form (`http://host/path`) names the host itself, and that is the request's host
/// (RFC 9112 §3.2.2), held to the same rule and without user information.
enum RequestHost {
    enum Flaw: Equatable {
        case missing
        case repeated
        case invalid
    }

    /// What is wrong with `head`'s `Host`, or with the host its absolute-form target names.
    static func flaw(in head: HTTPRequestHead) -> Flaw? {
        let values = head.headers["host"]
        switch values.count {
        case 0:
            if !head.version.precedesHTTP11 { return .missing }
        case 1:
            // Whitespace around a field's value is not part of it (RFC 9112 §5).
            guard isValid(values[0].utf8.trimmingWhitespace) else { return .invalid }
        default:
            return .repeated
        }
        if let named = absoluteFormAuthority(of: head.uri), named.contains(UInt8(ascii: "@")) || !isValid(named) {
            return .invalid
        }
        return nil
    }

    /// The authority of an absolute-form target (`http://host:port/path`), which is the request's
    /// host; nil for the usual origin-form target (`/path`).
    static func absoluteFormAuthority(of target: String) -> Substring.UTF8View? {
        let bytes = target.utf8
        guard let first = bytes.first, first != UInt8(ascii: "/"), first != UInt8(ascii: "*") else { return nil }
        for scheme in ["http://", "https://"] where bytes.count >= scheme.utf8.count {
            let end = bytes.index(bytes.startIndex, offsetBy: scheme.utf8.count)
            guard zip(bytes[..<end], scheme.utf8).allSatisfy({ $0 == $1 || ($1 >= UInt8(ascii: "a") && $0 | 0x20 == $1) }) else { continue }
            let rest = bytes[end...]
            return rest[..<(rest.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? rest.endIndex)]
        }
        return nil
    }

    /// Whether `value` is `uri-host [":" port]` with a host: an IP literal in brackets, or a
    /// registered name (an IPv4 address is one) of unreserved characters, sub-delimiters and
    /// %-escapes; the port digits only.
    static func isValid(_ value: Substring.UTF8View) -> Bool {
        var rest = value
        if rest.first == UInt8(ascii: "[") {
            guard let close = rest.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let literal = rest[rest.index(after: rest.startIndex)..<close]
            // IPv6 (hex digits, colons, an embedded IPv4's dots) or IPvFuture ("v" hex "." …).
            guard !literal.isEmpty, literal.allSatisfy({ isUnreserved($0) || isSubDelimiter($0) || $0 == UInt8(ascii: ":") })
            else { return false }
            rest = rest[rest.index(after: close)...]
        } else {
            let end = rest.firstIndex(of: UInt8(ascii: ":")) ?? rest.endIndex
            guard end > rest.startIndex, isRegisteredName(rest[..<end]) else { return false }
            rest = rest[end...]
        }
        guard let colon = rest.first else { return true }
        return colon == UInt8(ascii: ":") && rest.dropFirst().allSatisfy(isDigit)
    }

    private static func isRegisteredName(_ name: Substring.UTF8View) -> Bool {
        var index = name.startIndex
        while index < name.endIndex {
            let byte = name[index]
            if byte == UInt8(ascii: "%") {
                let first = name.index(after: index)
                guard first < name.endIndex, isHexDigit(name[first]) else { return false }
                let second = name.index(after: first)
                guard second < name.endIndex, isHexDigit(name[second]) else { return false }
                index = name.index(after: second)
                continue
            }
            guard isUnreserved(byte) || isSubDelimiter(byte) else { return false }
            index = name.index(after: index)
        }
        return true
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
    }

    private static func isSubDelimiter(_ byte: UInt8) -> Bool {
        "!$&'()*+,;=".utf8.contains(byte)
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
