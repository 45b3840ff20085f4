import Foundation

/// Input rules shared by every way an account or record is created.
public enum Validation {
    public static let passwordLength = 8...128
    public static let nameLength = 1...120

    /// Trims and lower-cases an e-mail address, and checks it is a plausible `local@domain.tld`.
    public static func normalisedEmail(_ raw: String) throws(DomainError) -> String {
        let email = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard email.utf8.count <= 254 else { throw .invalid("email is too long") }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, let local = parts.first, let domain = parts.last,
            !local.isEmpty, local.utf8.count <= 64,
            domain.contains("."), !domain.hasPrefix("."), !domain.hasSuffix("."), !domain.contains(".."),
            email.unicodeScalars.allSatisfy(isEmailScalar),
            domain.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || $0 == "." || $0 == "-" })
        else {
            throw .invalid("email must be a valid e-mail address")
        }
        return email
    }

    /// An identity provider's `email` claim as NeoSC keys accounts by it: trimmed, lower-cased, and
    /// the domain without the trailing dot of its fully qualified form (`a@example.com.` is
    /// `a@example.com`, and `demo.neosc.invalid.` is the demo domain); nil when that leaves no
    /// address (`""`, no `@`), or an address with a blank or a control character in it (`a@b.c .`
    /// had kept its blank, and `a@b.c\n.` a line break), which counts as none sent. Not held to
    /// `normalisedEmail` otherwise: what the provider vouched for is who signs in, however unusual.
    public static func providerEmail(_ raw: String?) -> String? {
        guard var email = raw?.trimmingCharacters(in: .whitespacesAndNewlines).lowercased() else { return nil }
        while email.hasSuffix(".") { email.removeLast() }
        guard let at = email.lastIndex(of: "@"), at != email.startIndex, email.index(after: at) != email.endIndex,
            !email.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control })
        else { return nil }
        return email
    }

    /// The domain demo visitors' accounts are made at (`<demo id>@demo.neosc.invalid`).
    public static let demoAccountDomain = "demo.neosc.invalid"

    /// `normalisedEmail`, for an address given anew (a registration's, a new administrator's, a
    /// demo's contact): its domain must also be a DNS name (`domain`'s rules: no label starting or
    /// ending with `-`, none over 63 characters), and not the domain of demo visitors' accounts,
    /// which no other account may pass for. Existing accounts are not held to it: they still sign
    /// in and are found as they were stored.
    public static func newEmail(_ raw: String) throws(DomainError) -> String {
        let email = try normalisedEmail(raw)
        let domain = String(email.split(separator: "@").last ?? "")
        guard (try? Self.domain(domain)) != nil else { throw .invalid("email must be a valid e-mail address") }
        guard !isAtDemoAccountDomain(email) else {
            throw .invalid("email must not be at \(demoAccountDomain), the domain of demo visitors' accounts")
        }
        return email
    }

    /// Whether `email` (lower-cased) is at `demoAccountDomain` or a domain under it.
    public static func isAtDemoAccountDomain(_ email: String) -> Bool {
        email.hasSuffix("@" + demoAccountDomain) || email.hasSuffix("." + demoAccountDomain)
    }

    private static func isEmailScalar(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && scalar.value > 32 && scalar.value < 127 && !"\"(),:;<>[\\]".unicodeScalars.contains(scalar)
    }

    /// The most UTF-8 bytes a password may take: 4 per character allowed, the same bound a login
    /// applies, so every password that can be set can also be used.
    public static let maximumPasswordBytes = passwordLength.upperBound * 4

    /// Its length counted in Unicode scalars, as JSON Schema's `minLength` and `maxLength` count
    /// (docs/openapi.json): a password the schema allows is never refused for its length.
    public static func requireValidPassword(_ password: String) throws(DomainError) {
        guard passwordLength.contains(password.unicodeScalars.count) else {
            throw .invalid("password must be \(passwordLength.lowerBound) to \(passwordLength.upperBound) characters")
        }
        guard password.utf8.count <= maximumPasswordBytes else {
            throw .invalid("password must be at most \(maximumPasswordBytes) bytes")
        }
    }

    /// The most combining marks one character of a text field may carry: more than writing needs
    /// (Vietnamese puts two on a letter, pointed Hebrew with cantillation four), far fewer than a
    /// "Zalgo" name's pile.
    public static let marksPerCharacter = 8

    static func isCombiningMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: true
        default: false
        }
    }

    /// Bytes a text field may take per character it is allowed: four, what one character of
    /// ordinary text takes in UTF-8 at most, so a name of combining marks stacked on one letter
    /// (one character, any number of bytes) is refused.
    public static let bytesPerCharacter = 4

    /// `text` of one line: a name, a type, a category. A line break in a name shows as none in a
    /// one-line field (a browser drops it from an input's value, so a form saved unchanged changed
    /// it) and splits it wherever it is printed line by line.
    public static func line(
        _ raw: String, field: String, length: ClosedRange<Int> = nameLength
    ) throws(DomainError) -> String {
        let value = try text(raw, field: field, length: length)
        guard !value.unicodeScalars.contains("\n") else { throw .invalid("\(field) must be one line") }
        return value
    }

    /// Trims a display name, title or description, puts it in Unicode normal form C, and checks its
    /// length in characters and in UTF-8 bytes (`bytesPerCharacter` per character allowed), that it
    /// has no hidden or control characters (`isRefusedInText`; a line break is let through: `line`
    /// refuses it), that it does not start with a combining mark nor pile more than
    /// `marksPerCharacter` on one character, and that its joiners and variation selectors stand
    /// where writing needs them (`isInPlace`).
    public static func text(
        _ raw: String, field: String, length: ClosedRange<Int> = nameLength
    ) throws(DomainError) -> String {
        // Checked on the raw input first, so an oversize value costs no normalisation.
        let maximumBytes = length.upperBound * bytesPerCharacter
        guard raw.utf8.count <= maximumBytes + 1_024 else {
            throw .invalid("\(field) must be at most \(maximumBytes) bytes")
        }
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines).precomposedStringWithCanonicalMapping
        guard length.contains(value.count) else {
            throw .invalid("\(field) must be \(length.lowerBound) to \(length.upperBound) characters")
        }
        guard value.utf8.count <= maximumBytes else {
            throw .invalid("\(field) must be at most \(maximumBytes) bytes")
        }
        guard !value.unicodeScalars.contains(where: { isRefusedInText($0) && $0 != "\n" }) else {
            throw .invalid("\(field) must not contain control or invisible characters")
        }
        // A mark with nothing under it shows as next to nothing; a pile of them on one letter
        // spills over the lines around it.
        if let first = value.unicodeScalars.first, isCombiningMark(first) {
            throw .invalid("\(field) must not start with a combining mark")
        }
        for character in value where character.unicodeScalars.count > marksPerCharacter {
            if character.unicodeScalars.lazy.filter(isCombiningMark).count > marksPerCharacter {
                throw .invalid("\(field) may have at most \(marksPerCharacter) combining marks on one character")
            }
        }
        let scalars = Array(value.unicodeScalars)
        for index in scalars.indices where !isInPlace(at: index, of: scalars) {
            if joiners.contains(scalars[index]) {
                throw .invalid("\(field) may have a zero-width joiner or non-joiner only between two letters that need one")
            }
            throw .invalid("\(field) may have a variation selector only right after the character it selects a form of")
        }
        return value
    }

    /// Whether a text field refuses `scalar` wherever it stands: a control character (category Cc:
    /// C0, DEL, C1) or an invisible format character (Cf): bidirectional marks, embeddings,
    /// overrides and isolates, which reorder what a reader sees; zero-width spaces, the word joiner
    /// and the byte-order mark, which hide a character between two others; tag characters, which
    /// carry text no one sees. The line and paragraph separators (U+2028, U+2029: line breaks that
    /// many readers do not break at, and that end a JavaScript string), private-use characters
    /// (their look is whatever a font vendor chose, or nothing), the other characters Unicode
    /// says to draw as nothing (Default_Ignorable_Code_Point: the Hangul fillers, the combining
    /// grapheme joiner, Khmer's inherent vowels…) and the blank Braille pattern (U+2800), which
    /// make a name look empty or like another. Not the zero-width non-joiner and joiner (U+200C,
    /// U+200D), which Persian, Arabic and Indic names need between letters and emoji such as 👩‍💻
    /// are joined with, nor variation selectors (❤️, the variants of a CJK or Mongolian letter):
    /// those are refused only out of place (`isInPlace`).
    public static func isRefusedInText(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        switch properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator, .privateUse: return true
        case .format: return !joiners.contains(scalar)
        default:
            if properties.isDefaultIgnorableCodePoint { return !properties.isVariationSelector }
            return scalar == "\u{2800}"
        }
    }

    /// The zero-width non-joiner and joiner, which text keeps between the letters that need them.
    public static let joiners: Set<Unicode.Scalar> = ["\u{200C}", "\u{200D}"]

    /// The invisible characters text keeps only in place (`isInPlace`): joiners and variation
    /// selectors.
    static func isPlaced(_ scalar: Unicode.Scalar) -> Bool {
        joiners.contains(scalar) || scalar.properties.isVariationSelector
    }

    /// Whether the scalar at `index` of `scalars` stands where writing needs it (any other
    /// scalar always does):
    /// - a joiner, between two characters that are neither white space, ASCII, nor a joiner
    ///   (Persian or Indic letters, the parts of an emoji);
    /// - a variation selector, right after the character it selects a form of: one that is
    ///   neither white space, a joiner nor another selector, nor ASCII but for a keycap's digit,
    ///   `#` or `*` (1️⃣ is `1`, U+FE0F, U+20E3).
    ///
    /// Anywhere else they only hide something: a name that is a lone joiner and looks empty,
    /// `Ac<ZWNJ>me` or `Acme<U+FE00>` that look like `Acme`, a space kept from trimming.
    static func isInPlace(at index: Int, of scalars: [Unicode.Scalar]) -> Bool {
        let scalar = scalars[index]
        /// Whether the scalar at `neighbour` is one a joiner or selector may stand beside: there,
        /// neither ASCII, white space nor a joiner, nor a selector unless `selectorToo`.
        func isLetterLike(_ neighbour: Int, selectorToo: Bool = false) -> Bool {
            guard scalars.indices.contains(neighbour) else { return false }
            let other = scalars[neighbour]
            let placed = selectorToo ? joiners.contains(other) : isPlaced(other)
            return !other.isASCII && !placed && !other.properties.isWhitespace
        }
        if joiners.contains(scalar) {
            // After a selector too: 👁️‍🗨️ is U+1F441, U+FE0F, ZWJ, U+1F5E8, U+FE0F.
            return isLetterLike(index - 1, selectorToo: true) && isLetterLike(index + 1)
        }
        guard scalar.properties.isVariationSelector else { return true }
        if isLetterLike(index - 1) { return true }
        return index > 0 && keycapBases.contains(scalars[index - 1]) && index + 1 < scalars.count
            && scalars[index + 1] == "\u{20E3}"
    }

    /// The ASCII characters a keycap (a selector, then U+20E3) is made on.
    private static let keycapBases: Set<Unicode.Scalar> = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "#", "*"]

    /// `value` in normal form C without the joiners and variation selectors out of place
    /// (`isInPlace`). Repeated until nothing changes: dropping one can leave another out of place
    /// (`a<U+FE0F><ZWJ>क`), or two characters that normal form C composes.
    static func droppingMisplaced(_ value: String) -> String {
        var current = value.precomposedStringWithCanonicalMapping
        while true {
            let scalars = Array(current.unicodeScalars)
            let kept = scalars.indices.filter { isInPlace(at: $0, of: scalars) }
            guard kept.count < scalars.count else { return current }
            current = String(String.UnicodeScalarView(kept.map { scalars[$0] })).precomposedStringWithCanonicalMapping
        }
    }

    /// A display name an identity provider sent, made to hold what `text` requires of a name
    /// instead of refusing the sign-in: normal form C, the characters `isRefusedInText` names
    /// dropped and so are joiners and variation selectors out of place (`isInPlace`), trimmed, cut
    /// to `nameLength`'s characters and their bytes. Nil when nothing is left.
    public static func providerName(_ raw: String) -> String? {
        // A claim is at most what the token's size cap let through; cut before normalising anyway.
        let maximumBytes = nameLength.upperBound * bytesPerCharacter
        let scalars = raw.unicodeScalars.prefix(maximumBytes * 2).filter { !isRefusedInText($0) }
        var value = droppingMisplaced(String(String.UnicodeScalarView(scalars))).trimmingCharacters(in: .whitespacesAndNewlines)
        value = droppingStrayMarks(value).trimmingCharacters(in: .whitespacesAndNewlines)
        value = String(value.prefix(nameLength.upperBound))
        while value.utf8.count > maximumBytes { value.removeLast() }
        // The cut, a character at a time, may have kept a joiner (part of the character before
        // it) without the letter after it: dropped. Trimming after that leaves everything in
        // place, since what stood next to white space was dropped already.
        value = droppingMisplaced(value).trimmingCharacters(in: .whitespacesAndNewlines)
        // A trim may have bared a mark that stood on a space (" \u{301}Zoe"): dropped, and so on.
        while let first = value.unicodeScalars.first, isCombiningMark(first) {
            value = String(String.UnicodeScalarView(value.unicodeScalars.dropFirst())).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return value.isEmpty ? nil : value
    }

    /// `value` without the combining marks `text` refuses: those before its first other
    /// character, and those past `marksPerCharacter` on one character.
    static func droppingStrayMarks(_ value: String) -> String {
        var kept = String.UnicodeScalarView()
        for character in value {
            var marks = 0
            for scalar in character.unicodeScalars {
                if isCombiningMark(scalar) {
                    marks += 1
                    if kept.isEmpty || marks > marksPerCharacter { continue }
                }
                kept.append(scalar)
            }
        }
        return String(kept)
    }

    /// A DNS domain such as `example.com`, lower-cased.
    public static func domain(_ raw: String) throws(DomainError) -> String {
        let domain = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard domain.utf8.count <= 253, labels.count >= 2,
            labels.allSatisfy({ label in
                (1...63).contains(label.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-") }
            })
        else {
            throw .invalid("domain must be a DNS name such as example.com")
        }
        return domain
    }

    public static func inRange(_ value: Int, _ range: ClosedRange<Int>, field: String) throws(DomainError) -> Int {
        guard range.contains(value) else {
            throw .invalid("\(field) must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return value
    }

    /// An absolute http(s) URL, or a path on this host: `/` alone or `/` followed by a character
    /// that is neither `/` nor a backslash (browsers read `//host` and `/\host` as another host), with
    /// no backslash, space or control character anywhere.
    public static func url(_ raw: String, field: String) throws(DomainError) -> String {
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard WorkspaceLimits.urlLength.contains(value.utf8.count) else {
            throw .invalid("\(field) must be 1 to \(WorkspaceLimits.urlLength.upperBound) bytes")
        }
        if value.hasPrefix("/") {
            let second = value.dropFirst().first
            // No backslash, and nothing a reader cannot see or that reorders what they see:
            // controls (C0 and C1), spaces, line and paragraph separators, format characters
            // (right-to-left overrides, zero-width characters).
            guard second != "/", second != "\\", !value.unicodeScalars.contains(where: { $0 == "\\" || isHidden($0) }) else {
                throw .invalid("\(field) must be an http(s) URL or a path starting with a single /")
            }
            return value
        }
        // Absolute: printable ASCII only (a browser would rewrite anything else), a host name
        // of letters, digits, dots and hyphens (or an IP literal in brackets), no user information
        // (`https://portal.example.com@evil.example/` goes to evil.example), a port that exists.
        guard !value.unicodeScalars.contains(where: { $0 == "\\" || $0.value <= 0x20 || $0.value >= 0x7F }),
            let components = URLComponents(string: value), let scheme = components.scheme?.lowercased(),
            scheme == "https" || scheme == "http", let host = components.host, !host.isEmpty,
            isBracketedIPv6(host) || host.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || $0 == "." || $0 == "-" }),
            components.user == nil, components.password == nil, !writesAnUnreadablePort(components, in: value),
            (1...65_535).contains(components.port ?? 80)
        else {
            throw .invalid("\(field) must be an http(s) URL or a path starting with /")
        }
        return value
    }

    /// Whether `host` is an IPv6 literal in brackets (`[2001:db8::1]`), as a URL writes one: what
    /// else a pair of brackets may hold (`[evil.example]`, a zone) is no address.
    private static func isBracketedIPv6(_ host: String) -> Bool {
        guard host.hasPrefix("["), host.hasSuffix("]") else { return false }
        let inside = String(host.dropFirst().dropLast())
        return inside.contains(":") && AddressRange.bytes(of: inside) != nil
    }

    /// Whether `url` writes a port after its host that `components` (its parse) did not read: one
    /// too large for any integer is read as none, which would have stood for the default port.
    /// (An empty one, `host:`, is the default port.)
    public static func writesAnUnreadablePort(_ components: URLComponents, in url: String) -> Bool {
        guard components.port == nil, let start = url.range(of: "://")?.upperBound else { return false }
        var authority = url[start...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            authority = authority[authority.index(after: close)...]
        }
        // `host:` with nothing after it is the default port, as browsers read it.
        guard let colon = authority.lastIndex(of: ":") else { return false }
        return authority.index(after: colon) != authority.endIndex
    }

    /// A character a path may not hold: a space, or one text may not hold anywhere or only in
    /// place (`isRefusedInText`, `isPlaced`: a path has no letters for a joiner to join).
    private static func isHidden(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || isRefusedInText(scalar) || isPlaced(scalar)
    }
}
