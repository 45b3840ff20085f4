extension String {
    /// This text cut to at most `limit` UTF-8 bytes at a character boundary, marked with `…`
    /// when cut (the mark counted in the limit).
    public func bounded(toUTF8Bytes limit: Int) -> String {
        guard utf8.count > limit else { return self }
        var kept = ""
        var bytes = 0
        for character in self {
            let size = character.utf8.count
            guard bytes + size <= limit - 3 else { break }
            kept.append(character)
            bytes += size
        }
        return kept + "…"
    }

    /// This text with each NUL (U+0000) replaced by U+FFFD, the replacement character. A store
    /// may keep a NUL but not give it back (SQLite's text is read up to the first one), so text
    /// that is hashed as written, as audit entries are, holds none.
    public var replacingNUL: String {
        guard utf8.contains(0) else { return self }
        return String(String.UnicodeScalarView(unicodeScalars.map { $0 == "\u{0}" ? "\u{FFFD}" : $0 }))
    }

    /// This text as an audit entry keeps it: each character text may not hold
    /// (`Validation.isRefusedInText`: controls, line breaks and ESC among them, right-to-left
    /// overrides, zero-width spaces, other default-ignorable characters), each space but U+0020
    /// and each backslash written out as `\u{202E}`. Anyone may put text into an entry (the
    /// e-mail a failed sign-in claimed): it must not hide itself, forge a line of its own in a
    /// SIEM, or reorder what a reader sees.
    public var escapingHidden: String {
        guard utf8.contains(where: { $0 < 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: "\\") }) else { return self }
        var escaped = ""
        escaped.reserveCapacity(utf8.count)
        for scalar in unicodeScalars {
            // A backslash too: a text that spells `\u{202E}` must not read as one that held U+202E.
            if Validation.isRefusedInText(scalar) || (scalar.properties.isWhitespace && scalar != " ") || scalar == "\\" {
                escaped += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
