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

    /// Bytes a text field may take per character it is allowed: four, what one character of
    /// ordinary text takes in UTF-8 at most, so a name of combining marks stacked on one letter
    /// (one character, any number of bytes) is refused.
    public static let bytesPerCharacter = 4

    /// Trims a display name or title, puts it in Unicode normal form C, and checks its length in
    /// characters and in UTF-8 bytes (`bytesPerCharacter` per character allowed) and that it has no
    /// control characters (`isRefusedControl`; a line break is let through).
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
        guard !value.unicodeScalars.contains(where: { isRefusedControl($0) && $0 != "\n" }) else {
            throw .invalid("\(field) must not contain control characters")
        }
        let scalars = Array(value.unicodeScalars)
        for index in scalars.indices where joiners.contains(scalars[index]) && !joinerIsInPlace(at: index, of: scalars) {
            throw .invalid("\(field) may have a zero-width joiner or non-joiner only between two letters that need one")
        }
        return value
    }

    /// Whether a text field refuses `scalar`: a control character (category Cc: C0, DEL, C1) or an
    /// invisible format character (Cf): bidirectional marks, embeddings, overrides and isolates,
    /// which reorder what a reader sees; zero-width spaces, the word joiner and the byte-order
    /// mark, which hide a character between two others; tag characters, which carry text no one
    /// sees. Except the zero-width non-joiner and joiner (U+200C, U+200D): Persian, Arabic and
    /// Indic names need them between letters, and emoji such as 👩‍💻 are joined with ZWJ.
    public static func isRefusedControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control: true
        case .format: !joiners.contains(scalar)
        default: false
        }
    }

    /// The zero-width non-joiner and joiner, which text keeps between the letters that need them.
    public static let joiners: Set<Unicode.Scalar> = ["\u{200C}", "\u{200D}"]

    /// Whether the joiner at `index` of `scalars` stands where writing needs one: between two
    /// characters that are neither joiners, white space nor ASCII (Persian or Indic letters, the
    /// parts of an emoji). Anywhere else it only hides something: a name that is a lone joiner and
    /// looks empty, `Ac<ZWNJ>me` that looks like `Acme`, a space kept from trimming.
    static func joinerIsInPlace(at index: Int, of scalars: [Unicode.Scalar]) -> Bool {
        func joins(_ neighbour: Int) -> Bool {
            guard scalars.indices.contains(neighbour) else { return false }
            let scalar = scalars[neighbour]
            return !scalar.isASCII && !joiners.contains(scalar) && !scalar.properties.isWhitespace
        }
        return joins(index - 1) && joins(index + 1)
    }

    /// `scalars` without the joiners that are not in place (`joinerIsInPlace`).
    static func droppingStrayJoiners(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        scalars.indices.compactMap { index in
            joiners.contains(scalars[index]) && !joinerIsInPlace(at: index, of: scalars) ? nil : scalars[index]
        }
    }

    /// A display name an identity provider sent, made to hold what `text` requires of a name
    /// instead of refusing the sign-in: normal form C, control characters dropped (those
    /// `isRefusedControl` names) and so are joiners out of place (`joinerIsInPlace`), trimmed, cut
    /// to `nameLength`'s characters and their bytes. Nil when nothing is left.
    public static func providerName(_ raw: String) -> String? {
        // A claim is at most what the token's size cap let through; cut before normalising anyway.
        let maximumBytes = nameLength.upperBound * bytesPerCharacter
        let scalars = Array(raw.unicodeScalars.prefix(maximumBytes * 2).filter { !isRefusedControl($0) })
        var value = String(String.UnicodeScalarView(droppingStrayJoiners(scalars))).precomposedStringWithCanonicalMapping
            .trimmingCharacters(in: .whitespacesAndNewlines)
        value = String(value.prefix(nameLength.upperBound))
        while value.utf8.count > maximumBytes { value.removeLast() }
        // A joiner belongs to the character before it, so the cut may have kept one without the
        // letter after it: dropped, which leaves that character (never white space) at the end.
        if let last = value.unicodeScalars.last, joiners.contains(last) {
            value.unicodeScalars.removeLast()
        }
        value = value.trimmingCharacters(in: .whitespacesAndNewlines)
        return value.isEmpty ? nil : value
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
            guard second != "/", second != "\\",
                !value.unicodeScalars.contains(where: { $0 == "\\" || $0.value <= 0x20 || $0.value == 0x7F })
            else {
                throw .invalid("\(field) must be an http(s) URL or a path starting with a single /")
            }
            return value
        }
        // Absolute: printable ASCII only (a browser would rewrite anything else), a host name
        // of letters, digits, dots and hyphens (or an IP literal in brackets), a port that exists.
        guard !value.unicodeScalars.contains(where: { $0 == "\\" || $0.value <= 0x20 || $0.value >= 0x7F }),
            let components = URLComponents(string: value), let scheme = components.scheme?.lowercased(),
            scheme == "https" || scheme == "http", let host = components.host, !host.isEmpty,
            host.hasPrefix("[") || host.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || $0 == "." || $0 == "-" }),
            (1...65_535).contains(components.port ?? 80)
        else {
            throw .invalid("\(field) must be an http(s) URL or a path starting with /")
        }
        return value
    }
}
