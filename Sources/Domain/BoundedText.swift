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
}
